"""TWI: the teacher's frozen detection head applied to mimic features."""
import copy
from typing import List, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from mmdet.models.dense_heads import AnchorHead
from mmdet.models.utils import images_to_levels
from mmdet.structures import SampleList
from mmdet.structures.bbox import cat_boxes
from mmdet.utils import InstanceList
from .utils import freeze

Levels = List[Tensor]


class TeacherHeadReuse(nn.Module):
    """A frozen copy of the teacher's head and its detection loss on ERA's
    approximations (Teacher Weight Integration).

    The head's parameters never change (``requires_grad=False``, in no
    optimizer) but it is *not* run under ``no_grad``: gradients flow through
    it into MBRNet and the student.

    The K+1 approximations go through the head as one batch. For anchor heads
    whose loss is mmdet's ``AnchorHead.loss_by_feat_single`` (RetinaHead and
    friends) anchor targets are assigned once per image and tiled K+1 times,
    and the per-approximation weights are folded into the label/box weights,
    so the whole TWI loss is one loss call per FPN level. Other heads fall
    back to the head's own ``loss_by_feat`` per approximation (assigning
    K+1 times; correct, slower).

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
        gts, metas, ignores = _unpack(batch_data_samples)
        if type(self.head).loss_by_feat_single is \
                AnchorHead.loss_by_feat_single:
            return self._anchor_loss(cls_scores, bbox_preds, weights, gts,
                                     metas, ignores)
        total = 0.
        for k, weight in enumerate(weights):
            chunk = [_chunk(x, k, len(weights)) for x in cls_scores]
            boxes = [_chunk(x, k, len(weights)) for x in bbox_preds]
            losses = self.head.loss_by_feat(chunk, boxes, gts, metas, ignores)
            total = total + weight * _sum_losses(losses)
        return total

    def _anchor_loss(self, cls_scores: Levels, bbox_preds: Levels,
                     weights: Sequence[float], gts: InstanceList,
                     metas: List[dict],
                     ignores: Optional[InstanceList]) -> Tensor:
        head = self.head
        num_approx = len(weights)
        featmap_sizes = [x.shape[-2:] for x in cls_scores]
        device = cls_scores[0].device
        anchors, valid_flags = head.get_anchors(featmap_sizes, metas, device)
        # Assigned once for the B images; reused for every approximation.
        (labels, label_weights, bbox_targets, bbox_weights,
         avg_factor) = head.get_targets(anchors, valid_flags, gts, metas,
                                        ignores)
        num_level_anchors = [a.size(0) for a in anchors[0]]
        level_anchors = images_to_levels([cat_boxes(a) for a in anchors],
                                         num_level_anchors)
        # One weight per tiled image row, approximation-major like the batch.
        row_weights = torch.tensor(weights, device=device).repeat_interleave(
            labels[0].size(0))
        total = 0.
        for lvl in range(len(cls_scores)):
            loss_cls, loss_bbox = head.loss_by_feat_single(
                cls_scores[lvl],
                bbox_preds[lvl],
                level_anchors[lvl].repeat(num_approx, 1, 1),
                labels[lvl].repeat(num_approx, 1),
                label_weights[lvl].repeat(num_approx, 1) *
                row_weights[:, None],
                bbox_targets[lvl].repeat(num_approx, 1, 1),
                bbox_weights[lvl].repeat(num_approx, 1, 1) *
                row_weights[:, None, None],
                avg_factor=avg_factor)
            total = total + loss_cls + loss_bbox
        return total


def _unpack(samples: SampleList):
    gts = [s.gt_instances for s in samples]
    metas = [s.metainfo for s in samples]
    ignores = [s.ignored_instances if 'ignored_instances' in s else None
               for s in samples]
    if all(i is None for i in ignores):
        ignores = None
    return gts, metas, ignores


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
