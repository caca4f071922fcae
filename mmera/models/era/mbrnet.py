"""MBRNet: the multi-branch residual network at the heart of ERA."""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmdet.registry import MODELS
from mmengine.model import BaseModule, constant_init
from torch import Tensor, nn

from ..common.feature_adapter import Widths
from ..common.utils import check_weight
from ..losses import (
    DEFAULT_FEATURE_NORM,
    check_feature_norm,
    feature_mse,
    teacher_level_norms,
)
from .mbrnet_branches import (
    WidthGroup,
    bottleneck_width,
    check_bottleneck,
    width_groups,
)

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

    Levels of different widths (YOLO-style necks, e.g. 128/256/512): the
    levels are grouped by their (student width, teacher width) pair, and
    each group has its own ``P`` and K branches (``groups.<g>.adapter``,
    ``groups.<g>.branches``, :class:`WidthGroup`), shared by the group's
    levels; parameters then grow with the number of distinct width pairs,
    not of levels. With one pair (one width per detector) the modules are
    ``adapter`` and ``branches``, as they always were.

    :meth:`loss` also returns, for the training log, the relative residual
    ``||T - M_k|| / ||T||`` of every approximation and level
    (:meth:`residual_norms`), which shows whether each branch shrinks what
    is left of the teacher.

    Args:
        student_channels: Channels of the student's FPN features: one count
            for every level, or one per level.
        teacher_channels: The same for the teacher's FPN features.
        num_branches: K, the number of residual steps (>= 1).
        num_blocks: 3x3 conv blocks per branch (>= 1; default 1, with the
            default bottleneck).
        branch_scales: Weight of each branch's residual loss (length K);
            defaults to ``(1, 1/2, 1/4, ...)`` as in the reference.
        adapter: ``'auto'`` (1x1 conv where channels differ), ``'conv'``
            (always) or ``'none'`` (never; channels must then match).
        norm_cfg: Norm of the branch blocks; GN suits detection batch sizes.
        act_cfg: Activation of all but the last block.
        separable: Use depthwise-separable 3x3 convs in full-width branches
            (depthwise 3x3 + pointwise 1x1: about 1/8 of the FLOPs at 256
            channels; with ``bottleneck_ratio=None``).
        bottleneck_channels: When set, each branch is a bottleneck: a 1x1
            conv down to this width, ``num_blocks`` 3x3 convs at it, and a
            1x1 conv up to the teacher's width (the last one's norm starts
            at zero). At 256 channels and a width of 64 this is about 1/17
            of a full-width branch's FLOPs. Not combined with
            ``separable``.
        bottleneck_ratio: The bottleneck's width as a fraction of the
            teacher's width, per width group (the default ``0.25``: 64 of
            256 channels, 16 of 64; at least one channel): a bottleneck that
            fits every neck, per-level widths included.
            ``bottleneck_channels``, when set, wins; None with
            ``bottleneck_channels=None``: full-width branches. Not combined
            with ``separable``.
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
                 student_channels: Widths,
                 teacher_channels: Widths,
                 num_branches: int = 4,
                 num_blocks: int = 1,
                 branch_scales: Optional[Sequence[float]] = None,
                 adapter: str = 'auto',
                 norm_cfg: Optional[dict] = dict(
                     type='GN', num_groups=32, requires_grad=True),
                 act_cfg: Optional[dict] = dict(type='ReLU'),
                 separable: bool = False,
                 bottleneck_channels: Optional[int] = None,
                 bottleneck_ratio: Optional[float] = 0.25,
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
        pairs, self.level_groups = _width_pairs(student_channels,
                                                teacher_channels)
        if adapter == 'none' and any(st != tt for st, tt in pairs):
            raise ValueError(
                f'MBRNet: student FPN has {_widths(student_channels)} '
                f'channels, the teacher FPN {_widths(teacher_channels)}; with '
                'adapter="none" they must match. Use adapter="auto" to add a '
                '1x1 conv adapter.')
        check_bottleneck(bottleneck_channels, bottleneck_ratio, separable)
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
        groups = [
            WidthGroup(st, tt, num_branches,
                       adapter == 'conv' or (adapter == 'auto' and st != tt),
                       num_blocks=num_blocks, norm_cfg=norm_cfg,
                       act_cfg=act_cfg, separable=separable,
                       bottleneck_channels=bottleneck_width(
                           tt, bottleneck_channels, bottleneck_ratio))
            for st, tt in pairs]
        if len(groups) == 1:  # one width pair: the modules' own names
            self.adapter, self.branches = groups[0].adapter, groups[0].branches
        else:
            self.groups = nn.ModuleList(groups)

    def _group(self, level: int) -> nn.Module:
        # The module holding ``adapter`` and ``branches`` of a level.
        if self.level_groups is None:
            return self
        return self.groups[self.level_groups[level]]

    def init_weights(self) -> None:
        super().init_weights()
        # Zero the last block's output so training starts from M_k = P(S).
        groups = [self] if self.level_groups is None else self.groups
        for branch in (b for group in groups for b in group.branches):
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
        if self.level_groups is not None and len(student_feats) != len(
                self.level_groups):
            raise ValueError(
                f'MBRNet: got {len(student_feats)} levels, built for '
                f'{len(self.level_groups)} (one width pair per level).')
        groups = [self._group(level) for level in range(len(student_feats))]
        base = [g.adapter(s) for g, s in zip(groups, student_feats)]
        preds = [[g.branches[k](s) for g, s in zip(groups, student_feats)]
                 for k in range(self.num_branches)]
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


def _width_pairs(student_channels: Widths, teacher_channels: Widths
                 ) -> Tuple[List[Tuple[int, int]], Optional[Tuple[int, ...]]]:
    # The distinct (student, teacher) width pairs and each level's pair
    # index; None for the index where there is one pair (any number of
    # levels then runs, as with plain int widths).
    ints = [isinstance(c, int) for c in (student_channels, teacher_channels)]
    if all(ints):
        return [(student_channels, teacher_channels)], None
    num = len(student_channels) if not ints[0] else len(teacher_channels)
    widths = [(c, ) * num if isinstance(c, int) else tuple(c)
              for c in (student_channels, teacher_channels)]
    if len(widths[0]) != len(widths[1]) or not num:
        raise ValueError(
            f'MBRNet: student_channels {list(widths[0])} and '
            f'teacher_channels {list(widths[1])} need one width per level '
            'each, for the same levels.')
    pairs, index = width_groups(*widths)
    return pairs, index if len(pairs) > 1 else None


def _widths(channels: Widths) -> str:
    if isinstance(channels, int) or len(set(channels)) > 1:
        return str(channels if isinstance(channels, int) else list(channels))
    return str(channels[0])
