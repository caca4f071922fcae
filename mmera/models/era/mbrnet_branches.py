"""MBRNet's building blocks: its branches and its per-width groups."""
from typing import List, Optional, Sequence, Tuple

from mmcv.cnn import ConvModule, DepthwiseSeparableConvModule
from torch import nn

WidthPair = Tuple[int, int]


def width_groups(student_channels: Sequence[int],
                 teacher_channels: Sequence[int]
                 ) -> Tuple[List[WidthPair], Tuple[int, ...]]:
    """Groups levels by their (student width, teacher width) pair.

    Args:
        student_channels: The student's width of each level.
        teacher_channels: The teacher's width of each level.

    Returns:
        tuple: The distinct pairs (in the order of their first level) and,
        for each level, the index of its pair.
    """
    pairs = list(zip(student_channels, teacher_channels))
    distinct = list(dict.fromkeys(pairs))
    return distinct, tuple(distinct.index(p) for p in pairs)


class WidthGroup(nn.Module):
    """The adapter ``P`` and the K branches shared by the levels of one
    (student width, teacher width) pair.

    Args:
        student_channels: The levels' student width.
        teacher_channels: The levels' teacher width.
        num_branches: K.
        use_adapter: A 1x1 conv as ``P`` (else identity; the widths must
            then match).
        **branch_cfg: Of :func:`build_branch` (``num_blocks``, ``norm_cfg``,
            ``act_cfg``, ``separable``, ``bottleneck_channels``).
    """

    def __init__(self, student_channels: int, teacher_channels: int,
                 num_branches: int, use_adapter: bool, **branch_cfg) -> None:
        super().__init__()
        self.adapter = (nn.Conv2d(student_channels, teacher_channels, 1)
                        if use_adapter else nn.Identity())
        self.branches = nn.ModuleList(
            build_branch(student_channels, teacher_channels, **branch_cfg)
            for _ in range(num_branches))


def check_bottleneck(channels: Optional[int], ratio: Optional[float],
                     separable: bool) -> None:
    """Raises a ValueError that names the fix for a bottleneck setting
    MBRNet cannot build."""
    if channels is not None and channels < 1:
        raise ValueError('MBRNet: bottleneck_channels must be a positive '
                         f'width, got {channels}.')
    if ratio is not None and not 0 < ratio <= 1:
        raise ValueError('MBRNet: bottleneck_ratio must be in (0, 1] (a '
                         f'fraction of the teacher\'s width), got {ratio}.')
    if separable and (channels is not None or ratio is not None):
        raise ValueError(
            'MBRNet: separable=True cannot be combined with a bottleneck (a '
            'bottleneck branch is already cheap), got bottleneck_channels='
            f'{channels}, bottleneck_ratio={ratio}; set both to None for '
            'separable branches.')


def bottleneck_width(teacher_channels: int, channels: Optional[int],
                     ratio: Optional[float]) -> Optional[int]:
    """A branch's bottleneck width: ``channels`` when set, else ``ratio``
    of the teacher's width (at least 1), else None (full-width branches)."""
    if channels is not None:
        return channels
    if ratio is None:
        return None
    return max(1, round(teacher_channels * ratio))


def build_branch(in_channels: int, out_channels: int, num_blocks: int,
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
