"""TWI: the teacher's frozen detection head applied to mimic features."""
import contextlib
import copy
from typing import List, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from mmdet.models.dense_heads.base_dense_head import BaseDenseHead
from mmdet.models.utils import unpack_gt_instances
from mmdet.structures import SampleList
from .anchor_loss import assign_targets, stacked_anchor_loss
from .head_loss_paths import chunk_outputs, loss_path, reused_targets
from .utils import freeze

Levels = List[Tensor]


class TeacherHeadReuse(nn.Module):
    """A frozen copy of the teacher's dense head and its own detection loss
    on ERA's approximations (Teacher Weight Integration).

    Any mmdet dense head works, whatever its forward returns per level
    (class scores, boxes, centerness, IoU/quality, distribution logits):
    the K+1 approximations go through the head as ONE batch, and the loss is
    ``sum_k weights[k] * head.loss_by_feat(outputs of approximation k)``.
    How much of that the copies share is the head's
    :func:`~mmera.models.head_loss_paths.loss_path` (targets assigned once
    where assignment ignores the predictions; see that module).

    The head's parameters never change (``requires_grad=False``, in no
    optimizer) but it is *not* run under ``no_grad``: gradients flow through
    it into MBRNet and the student. In training its mode is training (heads
    such as FCOS scale boxes by the stride only in eval) while its norm
    layers stay in eval: BN statistics are the teacher's, never updated.

    Args:
        head: The teacher's (loaded) head; deep-copied and frozen.

    Raises:
        ValueError: For a head that is not a dense head (DETR-like query
            heads, RoI heads).
    """

    def __init__(self, head: nn.Module) -> None:
        super().__init__()
        if not isinstance(head, BaseDenseHead):
            raise ValueError(
                f'TWI reuses the teacher\'s dense head, but the teacher\'s '
                f'head is {type(head).__name__}, not an mmdet dense head '
                '(BaseDenseHead: RetinaNet, FCOS, ATSS, GFL, RTMDet ...). '
                'Use ERA with twi_mode="none" (MBRNet and mimic only) or a '
                'feature method (FitNet, PKD) for this teacher.')
        self.head = freeze(copy.deepcopy(head))
        self.loss_path = loss_path(self.head)

    def train(self, mode: bool = True) -> 'TeacherHeadReuse':
        # Training-mode forward, frozen (eval) normalisation statistics.
        super().train(mode)
        for module in self.head.modules():
            if isinstance(module, _BatchNorm):
                module.eval()
        return self

    def load_from(self, head: nn.Module) -> None:
        """Copies the teacher head's current weights into the frozen copy."""
        self.head.load_state_dict(head.state_dict())

    @property
    def head_name(self) -> str:
        """The teacher head's mmdet class name."""
        return type(self.head).__name__

    def forward(self, approximations: Sequence[Levels]) -> Tuple[Levels, ...]:
        """Runs all approximations through the head as one batch.

        Args:
            approximations: ``approximations[k][level]`` of shape (B, C, H, W).

        Returns:
            tuple: The head's outputs (e.g. class scores, boxes[, centerness])
            per level, of batch ``len(approximations) * B``
            (approximation-major).
        """
        num_levels = len(approximations[0])
        batched = [
            torch.cat([approx[level] for approx in approximations], dim=0)
            for level in range(num_levels)
        ]
        return tuple(self.head(batched))

    def loss(self, approximations: Sequence[Levels], weights: Sequence[float],
             batch_data_samples: SampleList) -> Tensor:
        """``sum_k weights[k] * head_loss(approximations[k])``.

        Args:
            approximations: The K'+1 mimic features to score (k-major).
            weights: One weight per approximation.
            batch_data_samples: The batch's data samples (ground truth).

        Returns:
            Tensor: The weighted detection loss (all the head's terms).
        """
        outs = self(approximations)
        if self.loss_path == 'stacked':
            cls_scores, bbox_preds = outs
            targets = assign_targets(self.head,
                                     [x.shape[-2:] for x in cls_scores],
                                     batch_data_samples, cls_scores[0].device)
            losses_cls, losses_bbox = stacked_anchor_loss(
                self.head, cls_scores, bbox_preds, targets, weights)
            return sum(c + b for c, b in zip(losses_cls, losses_bbox))
        gts, ignores, metas = unpack_gt_instances(batch_data_samples)
        # 'reused_targets': the first loss call assigns, the others reuse it.
        shared = (reused_targets(self.head) if self.loss_path
                  == 'reused_targets' else contextlib.nullcontext())
        total, n = 0., len(weights)
        with shared:
            for k, weight in enumerate(weights):
                losses = self.head.loss_by_feat(*chunk_outputs(outs, k, n),
                                                gts, metas, ignores)
                total = total + weight * sum_losses(losses)
        return total

    def predict(self, features: Levels, batch_img_metas: List[dict],
                rescale: bool = True, cfg: Optional[dict] = None) -> list:
        """The teacher head's own detections on one feature set.

        Args:
            features: One feature map per level the head reads.
            batch_img_metas: The images' meta information.
            rescale: Boxes in the original image's scale.
            cfg: Post-processing settings (score threshold, NMS, ...);
                None: the teacher head's ``test_cfg``.
        """
        outs = self([features])
        return self.head.predict_by_feat(
            *outs, batch_img_metas=batch_img_metas, cfg=cfg, rescale=rescale)


def sum_losses(losses: dict) -> Tensor:
    """The sum of a loss dict's ``loss*`` terms (scalars or per-level lists).
    """
    total = 0.
    for name, value in losses.items():
        if 'loss' not in name:
            continue
        if isinstance(value, (list, tuple)):
            total = total + sum(value)
        else:
            total = total + value
    return total
