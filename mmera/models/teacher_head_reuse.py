"""TWI: the teacher's frozen detection head applied to mimic features."""
import copy
from typing import List, Sequence, Tuple

import torch
from torch import Tensor, nn

from mmdet.models.utils import unpack_gt_instances
from mmdet.structures import SampleList
from .anchor_loss import (assign_targets, stacked_anchor_loss,
                          supports_assign_once)
from .utils import freeze

Levels = List[Tensor]


class TeacherHeadReuse(nn.Module):
    """A frozen copy of the teacher's head and its detection loss on ERA's
    approximations (Teacher Weight Integration).

    The head's parameters never change (``requires_grad=False``, in no
    optimizer) but it is *not* run under ``no_grad``: gradients flow through
    it into MBRNet and the student.

    The K+1 approximations go through the head as one batch. For heads whose
    whole loss is ``AnchorHead``'s (RetinaHead and the few others that pass
    :func:`~mmera.models.anchor_loss.supports_assign_once`) anchor targets
    are assigned once per image and tiled K+1 times, and the
    per-approximation weights are folded into the label/box weights, so the
    whole TWI loss is one loss call per FPN level. Other heads (FreeAnchor,
    PISA, ATSS, ...) fall back to the head's own ``loss_by_feat`` per
    approximation (assigning K+1 times; correct, slower).

    Args:
        head: The teacher's (loaded) head; deep-copied and frozen.
    """

    def __init__(self, head: nn.Module) -> None:
        super().__init__()
        self.head = freeze(copy.deepcopy(head))

    def train(self, mode: bool = True) -> 'TeacherHeadReuse':
        # Frozen: norm layers in the head (if any) keep their statistics.
        super().train(mode)
        self.head.eval()
        return self

    def load_from(self, head: nn.Module) -> None:
        """Copies the teacher head's current weights into the frozen copy."""
        self.head.load_state_dict(head.state_dict())

    def forward(self, approximations: Sequence[Levels]
                ) -> Tuple[Levels, Levels]:
        """Runs all approximations through the head as one batch.

        Args:
            approximations: ``approximations[k][level]`` of shape (B, C, H, W).

        Returns:
            tuple: class scores and box predictions per level, of batch
            ``len(approximations) * B`` (approximation-major).
        """
        num_levels = len(approximations[0])
        batched = [
            torch.cat([approx[level] for approx in approximations], dim=0)
            for level in range(num_levels)
        ]
        return self.head(batched)

    def loss(self, approximations: Sequence[Levels], weights: Sequence[float],
             batch_data_samples: SampleList) -> Tensor:
        """``sum_k weights[k] * head_loss(approximations[k])``.

        Args:
            approximations: The K'+1 mimic features to score (k-major).
            weights: One weight per approximation.
            batch_data_samples: The batch's data samples (ground truth).

        Returns:
            Tensor: The weighted detection loss (classification + boxes).
        """
        cls_scores, bbox_preds = self(approximations)
        if supports_assign_once(self.head):
            targets = assign_targets(self.head,
                                     [x.shape[-2:] for x in cls_scores],
                                     batch_data_samples, cls_scores[0].device)
            losses_cls, losses_bbox = stacked_anchor_loss(
                self.head, cls_scores, bbox_preds, targets, weights)
            total = 0.
            for loss_cls, loss_bbox in zip(losses_cls, losses_bbox):
                total = total + loss_cls + loss_bbox
            return total
        gts, ignores, metas = unpack_gt_instances(batch_data_samples)
        total = 0.
        for k, weight in enumerate(weights):
            chunk = [_chunk(x, k, len(weights)) for x in cls_scores]
            boxes = [_chunk(x, k, len(weights)) for x in bbox_preds]
            losses = self.head.loss_by_feat(chunk, boxes, gts, metas, ignores)
            total = total + weight * _sum_losses(losses)
        return total


def _chunk(x: Tensor, k: int, n: int) -> Tensor:
    return x.chunk(n, dim=0)[k]


def _sum_losses(losses: dict) -> Tensor:
    total = 0.
    for value in losses.values():
        if isinstance(value, (list, tuple)):
            total = total + sum(value)
        else:
            total = total + value
    return total
