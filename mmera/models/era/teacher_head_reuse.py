"""TWI: the teacher's frozen detection head applied to mimic features."""
import contextlib
import copy
from typing import List, Optional, Sequence, Tuple

import torch
from mmdet.models.dense_heads.base_dense_head import BaseDenseHead
from mmdet.models.utils import unpack_gt_instances
from mmdet.structures import SampleList
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from ..common.anchor_loss import (
    AnchorTargets,
    assign_targets,
    stacked_anchor_loss,
)
from ..common.utils import (
    FrozenForward,
    freeze,
    freeze_norm_stats,
    same_settings,
)
from .head_loss_paths import chunk_outputs, loss_path, reused_targets

Levels = List[Tensor]
#: Loss switches of a dense head that stock hooks flip during a schedule:
#: ``use_l1``, YOLOX's L1 box loss, set by ``YOLOXModeSwitchHook`` for the
#: last epochs.
HEAD_SWITCHES = ('use_l1', )


class TeacherHeadReuse(nn.Module):
    """A frozen copy of the teacher's dense head and its own detection loss
    on ERA's approximations (Teacher Weight Integration).

    Any mmdet dense head works, whatever its forward returns per level
    (class scores, boxes, centerness, IoU/quality, distribution logits):
    the K+1 approximations go through the head as ONE batch, and the loss is
    ``sum_k weights[k] * head.loss_by_feat(outputs of approximation k)``.
    How much of that the copies share is the head's
    :func:`~mmera.models.era.head_loss_paths.loss_path` (targets assigned once
    where assignment ignores the predictions; see that module).

    The head's parameters never change (``requires_grad=False``, in no
    optimizer) but it is *not* run under ``no_grad``: gradients flow through
    it into MBRNet and the student. In training its mode is training (heads
    such as FCOS scale boxes by the stride only in eval) while its norm
    layers stay in eval: BN statistics are the teacher's, never updated.

    Args:
        head: The teacher's (loaded) head; deep-copied and frozen.
        precision: The head's training forward precision: ``'fp32'``, or
            ``'bf16'`` / ``'fp16'`` (``torch.autocast``; the outputs are
            cast back to float32 before the loss), or ``'auto'`` (bf16
            where the device runs it natively, see
            :func:`~mmera.models.common.utils.resolve_precision`).
            Inference (T/ST) always runs in float32.
        recompute: In training, score the approximations one at a time under
            activation checkpointing: each one's head forward and loss keep
            only their input and a scalar, and run again in the backward.
            The same loss and gradients, at the memory of ONE head pass
            instead of K+1 (exact TWI's memory) for one more head forward
            per approximation. Where the targets are assigned once
            (``'stacked'``), one pass is one image of one approximation.

    Raises:
        ValueError: For a head that is not a dense head (DETR-like query
            heads, RoI heads).
    """

    def __init__(self, head: nn.Module, precision: str = 'fp32',
                 recompute: bool = False) -> None:
        super().__init__()
        if not isinstance(head, BaseDenseHead):
            raise ValueError(
                f'TWI reuses the teacher\'s dense head, but the teacher\'s '
                f'head is {type(head).__name__}, not an mmdet dense head '
                '(BaseDenseHead: RetinaNet, FCOS, ATSS, GFL, RTMDet ...). '
                'Use ERA with twi_mode="none" (MBRNet and mimic only) or a '
                'feature method (FitNet, PKD) for this teacher.')
        if type(head).forward is nn.Module.forward:
            # e.g. CascadeRPNHead: its stages refine the anchors one after
            # another inside loss() and predict(), with no forward of its own
            raise ValueError(
                f'TWI runs the teacher\'s head forward on each approximation, '
                f'but the teacher\'s head {type(head).__name__} has no '
                'forward of its own (it runs its stages only inside its loss '
                'and predict). Use ERA with twi_mode="none" (MBRNet and mimic '
                'only) or a feature method (FitNet, PKD) for this teacher.')
        self.head = freeze(copy.deepcopy(head))
        self.loss_path = loss_path(self.head)
        self.frozen_forward = FrozenForward(precision, 'TeacherHeadReuse')
        self.recompute = bool(recompute)

    def train(self, mode: bool = True) -> 'TeacherHeadReuse':
        # Training-mode forward, frozen (eval) normalisation statistics.
        super().train(mode)
        freeze_norm_stats(self.head)
        return self

    def follow(self, student_head: Optional[nn.Module]) -> None:
        """Takes over the loss switches that a student config's hooks flip on
        the student's head (:data:`HEAD_SWITCHES`), so that TWI's loss is the
        loss the student's head computes at this point of the schedule."""
        for name in HEAD_SWITCHES:
            if hasattr(student_head, name) and hasattr(self.head, name):
                setattr(self.head, name, getattr(student_head, name))

    def load_from(self, head: nn.Module) -> None:
        """Copies the teacher head's current weights into the frozen copy."""
        self.head.load_state_dict(head.state_dict())

    @property
    def precision(self) -> str:
        """The head's training precision as stated (``'auto'`` kept)."""
        return self.frozen_forward.precision

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
        return tuple(self.frozen_forward(self.head, batched, self.training,
                                         batched[0].device, self.head_name))

    def loss(self, approximations: Sequence[Levels], weights: Sequence[float],
             batch_data_samples: SampleList,
             proposals: Optional[list] = None) -> Tensor:
        """``sum_k weights[k] * head_loss(approximations[k])``.

        Args:
            approximations: The K'+1 mimic features to score (k-major).
            weights: One weight per approximation.
            batch_data_samples: The batch's data samples (ground truth).
            proposals: Unused (a dense head needs no proposals; the
                argument keeps the interface of :class:`TwoStageHeadReuse`).

        Returns:
            Tensor: The weighted detection loss (all the head's terms).
        """
        # the targets as the head's own loss would assign them, once where
        # the head allows it (see head_loss_paths): before any head pass
        # ('stacked'), or by the first loss call and kept in ``memo`` for
        # the others and for every recomputation ('reused_targets')
        targets = assign_targets(
            self.head, [x.shape[-2:] for x in approximations[0]],
            batch_data_samples, approximations[0][0].device
        ) if self.loss_path == 'stacked' else None
        gt = unpack_gt_instances(batch_data_samples)
        memo: list = []
        if not (self.recompute and self.training and torch.is_grad_enabled()):
            return self._outputs_loss(self(approximations), weights, targets,
                                      gt, memo)

        # recompute: one approximation at a time, its head pass and loss
        # checkpointed ('per_approximation' heads assign again when a pass
        # is recomputed: the same predictions give the same assignment)
        def approximation_loss(weight: float, part: Optional[AnchorTargets],
                               *levels: Tensor) -> Tensor:
            return self._outputs_loss(self([list(levels)]), [weight], part,
                                      gt, memo)

        if targets is None:
            return sum(
                checkpoint(approximation_loss, weight, None, *approximation,
                           use_reentrant=False)
                for weight, approximation in zip(weights, approximations))
        # 'stacked': one (approximation, image) at a time, which halves the
        # peak again at batch 2 (the head pass and the focal loss's
        # per-anchor intermediates are per image); exact, since each image's
        # loss keeps the batch's normaliser and the head's norms are frozen
        return sum(
            checkpoint(approximation_loss, weight, targets.image(i),
                       *(x[i:i + 1] for x in approximation),
                       use_reentrant=False)
            for weight, approximation in zip(weights, approximations)
            for i in range(targets.num_images))

    def _outputs_loss(self, outs: Tuple[Levels, ...], weights: Sequence[float],
                      targets: Optional[AnchorTargets], gt: tuple,
                      memo: list) -> Tensor:
        """``sum_k weights[k] * head.loss_by_feat(copy k of outs)``.

        Args:
            outs: The head's outputs of ``len(weights)`` stacked copies.
            weights: One weight per copy.
            targets: The anchor targets (``'stacked'`` path), else None.
            gt: ``unpack_gt_instances`` of the batch.
            memo: The reused targets (``'reused_targets'`` path).
        """
        if targets is not None:
            losses_cls, losses_bbox = stacked_anchor_loss(
                self.head, *outs, targets, weights)
            return sum(c + b for c, b in zip(losses_cls, losses_bbox))
        gts, ignores, metas = gt
        shared = (reused_targets(self.head, memo) if self.loss_path
                  == 'reused_targets' else contextlib.nullcontext())
        total, n = 0., len(weights)
        with shared:
            for k, weight in enumerate(weights):
                losses = self.head.loss_by_feat(*chunk_outputs(outs, k, n),
                                                gts, metas, ignores)
                total = total + weight * sum_losses(losses)
        return total

    def predict(self, features: Levels, batch_data_samples: SampleList,
                rescale: bool = True, cfg: Optional[dict] = None) -> list:
        """The teacher head's own detections on one feature set (T-mode).

        Args:
            features: One feature map per level the head reads.
            batch_data_samples: The images' data samples (meta information).
            rescale: Boxes in the original image's scale.
            cfg: Post-processing settings (score threshold, NMS, ...);
                None: the teacher head's ``test_cfg``.
        """
        metas = [s.metainfo for s in batch_data_samples]
        return self.head.predict_by_feat(
            *self([features]), batch_img_metas=metas, cfg=cfg,
            rescale=rescale)

    def decodes_like(self, student: nn.Module) -> bool:
        """Whether ``student``'s dense head decodes this head's raw outputs
        as this head would: the same decoding code, strides, priors (anchor
        sizes, ratios), box coder (e.g. target stds) and output layout."""
        s_head, t_head = getattr(student, 'bbox_head', None), self.head
        if not isinstance(s_head, BaseDenseHead):
            return False
        s_cls, t_cls = type(s_head), type(t_head)
        for method in ('predict_by_feat', '_predict_by_feat_single'):
            if getattr(s_cls, method, None) is not getattr(t_cls, method,
                                                           None):
                return False
        for attr in ('num_base_priors', 'cls_out_channels',
                     'reg_decoded_bbox', 'use_sigmoid_cls', 'reg_max',
                     'num_classes'):
            if getattr(s_head, attr, None) != getattr(t_head, attr, None):
                return False
        return same_settings(s_head, t_head,
                             ('prior_generator', 'bbox_coder'))

    def blend_predict(self, student: nn.Module, student_feats: Levels,
                      features: Levels, alpha: float,
                      batch_data_samples: SampleList,
                      rescale: bool = True) -> list:
        """ST-mode: ``(1 - alpha) * student head + alpha * this head`` on
        every raw output, decoded by the student head (see
        :meth:`decodes_like`)."""
        outs_s = student.bbox_head(student_feats)
        outs_t = self([features])
        blended = tuple([(1 - alpha) * s + alpha * t for s, t in zip(o_s, o_t)]
                        for o_s, o_t in zip(outs_s, outs_t))
        metas = [s.metainfo for s in batch_data_samples]
        return student.bbox_head.predict_by_feat(
            *blended, batch_img_metas=metas, rescale=rescale)


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
