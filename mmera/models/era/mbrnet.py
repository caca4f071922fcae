"""MBRNet: the multi-branch residual network at the heart of ERA."""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmcv.cnn import ConvModule, DepthwiseSeparableConvModule
from mmengine.model import BaseModule, constant_init
from torch import Tensor, nn

from mmdet.registry import MODELS
from ..common.utils import check_weight
from ..losses import (DEFAULT_FEATURE_NORM, check_feature_norm, feature_mse,
                      teacher_level_norms)

Levels = List[Tensor]


@MODELS.register_module()
class MBRNet(BaseModule):
    """Approximates teacher FPN features in K successive residual steps.

    With student features ``S`` and teacher features ``T`` (per FPN level),
    ``P`` maps student channels to teacher channels (a 1x1 conv, or identity
    when they match). Branch ``k`` (of ``num_branches`` = K) predicts
    ``pred_k`` from ``S``; its target is the residual left by everything
    before it, detached: ``r_1 = T - P(S)``, ``r_k = r_{k-1} - pred_{k-1}``.
    The approximations ``M_k = P(S) + pred_1 + ... + pred_k`` (k = 0..K) are
    what the teacher's head sees in TWI.

    Branches are ``num_blocks`` conv3x3-norm(-act) blocks, the last without
    activation, with weights shared across FPN levels (as RetinaHead shares
    its convs), so parameters do not grow with the number of levels. The last
    block's norm starts at zero, so every ``pred_k`` starts at exactly zero
    and the first approximation is ``P(S)``.

    :meth:`loss` also returns, for the training log, the relative residual
    ``||T - M_k|| / ||T||`` of every approximation and level
    (:meth:`residual_norms`), which shows whether each branch shrinks what
    is left of the teacher.

    Args:
        student_channels: Channels of the student's FPN features.
        teacher_channels: Channels of the teacher's FPN features.
        num_branches: K, the number of residual steps (>= 1).
        num_blocks: Conv blocks per branch (>= 1).
        branch_scales: Weight of each branch's residual loss (length K);
            defaults to ``(1, 1/2, 1/4, ...)`` as in the reference.
        adapter: ``'auto'`` (1x1 conv only when channels differ), ``'conv'``
            (always) or ``'none'`` (never; channels must then match).
        norm_cfg: Norm of the branch blocks; GN suits detection batch sizes.
        act_cfg: Activation of all but the last block.
        separable: Use depthwise-separable 3x3 convs in the branches
            (depthwise 3x3 + pointwise 1x1: about 1/8 of the FLOPs at 256
            channels), ERA's cheap setting for students whose head is small.
        bottleneck_channels: When set, each branch is a bottleneck: a 1x1
            conv down to this width, ``num_blocks`` 3x3 convs at it, and a
            1x1 conv up to the teacher's width (the last one's norm starts
            at zero). At 256 channels and a width of 64 this is about 1/17
            of a full-width branch's FLOPs. Not combined with
            ``separable``.
        feature_norm: ``'teacher_std'`` (default): each level's MSE (mimic
            and residual) divided by the teacher level's variance, which
            makes the losses scale-free across FPN levels; ``'none'``: plain
            MSE (see :mod:`mmera.models.losses.feature_mse`).
        init_cfg: Weight init of the convs (normal, std 0.01, as the
            reference).
        mimic_norm: Removed (renamed ``feature_norm``); giving it raises a
            ValueError that says so.
    """

    def __init__(self,
                 student_channels: int,
                 teacher_channels: int,
                 num_branches: int = 4,
                 num_blocks: int = 2,
                 branch_scales: Optional[Sequence[float]] = None,
                 adapter: str = 'auto',
                 norm_cfg: Optional[dict] = dict(
                     type='GN', num_groups=32, requires_grad=True),
                 act_cfg: Optional[dict] = dict(type='ReLU'),
                 separable: bool = False,
                 bottleneck_channels: Optional[int] = None,
                 feature_norm: str = DEFAULT_FEATURE_NORM,
                 init_cfg: Optional[dict] = dict(
                     type='Normal', layer='Conv2d', std=0.01),
                 mimic_norm: Optional[str] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_branches < 1:
            raise ValueError(
                f'MBRNet: num_branches must be >= 1 (ERA needs at least one '
                f'residual step), got {num_branches}.')
        if num_blocks < 1:
            raise ValueError(
                f'MBRNet: num_blocks must be >= 1, got {num_blocks}.')
        if adapter not in ('auto', 'conv', 'none'):
            raise ValueError(f'MBRNet: adapter must be "auto", "conv" or '
                             f'"none", got {adapter!r}.')
        if adapter == 'none' and student_channels != teacher_channels:
            raise ValueError(
                f'MBRNet: student FPN has {student_channels} channels, the '
                f'teacher FPN {teacher_channels}; with adapter="none" they '
                'must match. Use adapter="auto" to add a 1x1 conv adapter.')
        if bottleneck_channels is not None and (
                separable or bottleneck_channels < 1):
            raise ValueError(
                'MBRNet: bottleneck_channels must be a positive width and '
                'cannot be combined with separable=True (a bottleneck branch '
                f'is already cheap), got bottleneck_channels='
                f'{bottleneck_channels}, separable={separable}.')
        check_feature_norm('MBRNet', feature_norm, mimic_norm)
        if branch_scales is None:
            branch_scales = [0.5**k for k in range(num_branches)]
        if len(branch_scales) != num_branches:
            raise ValueError(f'MBRNet: {len(branch_scales)} branch_scales for '
                             f'{num_branches} branches.')
        check_weight('branch_scales', branch_scales, 'MBRNet')
        self.num_branches = num_branches
        self.branch_scales = [float(s) for s in branch_scales]
        self.feature_norm = feature_norm
        use_adapter = adapter == 'conv' or (
            adapter == 'auto' and student_channels != teacher_channels)
        self.adapter = (nn.Conv2d(student_channels, teacher_channels, 1)
                        if use_adapter else nn.Identity())
        self.branches = nn.ModuleList(
            _branch(student_channels, teacher_channels, num_blocks, norm_cfg,
                    act_cfg, separable, bottleneck_channels)
            for _ in range(num_branches))

    def init_weights(self) -> None:
        super().init_weights()
        # Zero the last block's output so training starts from M_k = P(S).
        for branch in self.branches:
            last = getattr(branch[-1], 'pointwise_conv', branch[-1])
            if last.with_norm:
                constant_init(last.norm, 0.0)
            else:
                constant_init(last.conv, 0.0)

    def forward(self, student_feats: Sequence[Tensor]
                ) -> Tuple[Levels, List[Levels]]:
        """Runs the adapter and every branch on every level.

        Args:
            student_feats: One student feature map per FPN level.

        Returns:
            tuple: ``base`` (``P(S)`` per level) and ``preds`` (``preds[k]``
            is branch k+1's prediction per level).
        """
        base = [self.adapter(s) for s in student_feats]
        preds = [[branch(s) for s in student_feats]
                 for branch in self.branches]
        return base, preds

    @staticmethod
    def approximations(base: Levels, preds: List[Levels]) -> List[Levels]:
        """``M_0 = P(S)`` and ``M_k = M_{k-1} + pred_k``, per level."""
        approx = [list(base)]
        for pred in preds:
            approx.append([m + p for m, p in zip(approx[-1], pred)])
        return approx

    @staticmethod
    def residual_targets(base: Levels, preds: List[Levels],
                         teacher_feats: Levels) -> List[Levels]:
        """``r_1 = T - P(S)``, ``r_k = r_{k-1} - pred_{k-1}``, all detached."""
        targets = [[(t - b).detach() for t, b in zip(teacher_feats, base)]]
        for pred in preds[:-1]:
            targets.append([(r - p).detach()
                            for r, p in zip(targets[-1], pred)])
        return targets

    @staticmethod
    @torch.no_grad()
    def residual_norms(base: Levels, preds: List[Levels],
                       teacher_feats: Levels) -> Dict[str, Tensor]:
        """What is left of the teacher after each approximation, per level.

        ``||T_l - M_k,l||_2 / ||T_l||_2`` over the whole batch, for
        ``k = 0..K`` and every level ``l``: ERA's claim is that each branch
        shrinks it. A diagnostic only: no gradient, detached inputs.

        Args:
            base: ``P(S)`` per level.
            preds: ``preds[k]`` is branch k+1's prediction per level.
            teacher_feats: ``T`` per level.

        Returns:
            dict: ``residual_k{k}_p{l}`` -> a 0-dim float32 tensor. The
            names hold no ``loss``, so mmengine's ``parse_losses`` logs them
            without adding them to the total loss.
        """
        norms = {}
        for level, teacher in enumerate(teacher_feats):
            # float32: a norm of a large fp16/bf16 map overflows or rounds
            teacher = teacher.detach().float()
            # clamped: a constant-zero teacher level gives a huge ratio
            # (or 0), not NaN
            size = torch.linalg.vector_norm(teacher).clamp_min(1e-12)
            # T - M_k, built as (T - M_0) - pred_1 - ... - pred_k: one
            # running map per level instead of K+1 approximations held at
            # once (the same value up to float rounding)
            residual = teacher - base[level].detach().float()
            norms[f'residual_k0_p{level}'] = (
                torch.linalg.vector_norm(residual) / size)
            for k, pred in enumerate(preds, start=1):
                residual = residual - pred[level].detach().float()
                norms[f'residual_k{k}_p{level}'] = (
                    torch.linalg.vector_norm(residual) / size)
        return norms

    def loss(self, base: Levels, preds: List[Levels],
             teacher_feats: Levels) -> dict:
        """Feature-mimic loss and the branch residual loss.

        Returns:
            dict: ``loss_mimic`` (MSE of ``P(S)`` and ``T``, averaged over
            levels) and ``loss_residual`` (``sum_k scale_k * MSE(pred_k,
            r_k) / K``, each MSE averaged over levels); each level's MSE is
            divided per ``feature_norm``. Plus, to be logged but not
            optimised, the relative residual norms ``residual_k{k}_p{l}``
            of :meth:`residual_norms` (no ``loss`` in their names).
        """
        teacher_feats = [t.detach() for t in teacher_feats]
        norms = teacher_level_norms(teacher_feats, self.feature_norm)
        loss_mimic = feature_mse(base, teacher_feats, norms)
        targets = self.residual_targets(base, preds, teacher_feats)
        loss_residual = sum(
            scale * feature_mse(pred, target, norms)
            for scale, pred, target in zip(self.branch_scales, preds,
                                           targets)) / self.num_branches
        return dict(loss_mimic=loss_mimic, loss_residual=loss_residual,
                    **self.residual_norms(base, preds, teacher_feats))


def _branch(in_channels: int, out_channels: int, num_blocks: int,
            norm_cfg: Optional[dict], act_cfg: Optional[dict],
            separable: bool, bottleneck_channels: Optional[int]
            ) -> nn.Sequential:
    """One branch: ``num_blocks`` 3x3 blocks (full-width or separable), or
    a 1x1 -> ``num_blocks`` x 3x3 -> 1x1 bottleneck; the last block has no
    activation."""
    if bottleneck_channels is None:
        widths = [in_channels] + [out_channels] * num_blocks
        kernels = [3] * num_blocks
    else:
        widths = ([in_channels] + [bottleneck_channels] * (num_blocks + 1) +
                  [out_channels])
        kernels = [1] + [3] * num_blocks + [1]
    conv_module = DepthwiseSeparableConvModule if separable else ConvModule
    # the depthwise half stays linear; norm and act follow the pointwise
    extra = dict(dw_norm_cfg=None, dw_act_cfg=None) if separable else {}
    blocks = []
    for i, kernel in enumerate(kernels):
        last = i == len(kernels) - 1
        blocks.append(
            conv_module(
                widths[i],
                widths[i + 1],
                kernel,
                padding=kernel // 2,
                norm_cfg=_fit_norm(norm_cfg, widths[i + 1], out_channels),
                act_cfg=None if last else act_cfg,
                **extra))
    return nn.Sequential(*blocks)


def _fit_norm(norm_cfg: Optional[dict], channels: int,
              full_channels: int) -> Optional[dict]:
    # GN's group count must divide the block's width. A narrower bottleneck
    # block keeps the channels per group of the full width (32 groups of 8
    # at 256 -> 8 groups at 64), not the group count: 32 groups of 2 or of
    # 1 channel would normalise single values on the coarsest levels.
    if norm_cfg is None or norm_cfg.get('type') != 'GN':
        return norm_cfg
    wanted = norm_cfg.get('num_groups', 32)
    if channels < full_channels:
        wanted = max(1, wanted * channels // full_channels)
    return dict(norm_cfg, num_groups=_gn_groups(channels, wanted))


def _gn_groups(channels: int, wanted: int) -> int:
    # The largest group count <= wanted that divides the channels.
    for groups in range(min(wanted, channels), 0, -1):
        if channels % groups == 0:
            return groups
    return 1
