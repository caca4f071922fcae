"""Per-level 1x1 adapters from student feature channels to teacher ones."""
from typing import List, Sequence, Tuple, Union

from mmdet.registry import MODELS
from torch import Tensor, nn

ADAPTER_MODES = ('auto', 'conv', 'none')
#: One width for every level, or one width per level.
Widths = Union[int, Sequence[int]]


def level_widths(widths: Widths, num_levels: int, what: str,
                 owner: str) -> Tuple[int, ...]:
    """``widths`` as one width per level.

    Args:
        widths: One width for all levels, or one per level.
        num_levels: The number of levels.
        what: The argument's name, for messages.
        owner: The module's name, for messages.

    Raises:
        ValueError: A sequence of another length than ``num_levels``.
    """
    if isinstance(widths, int):
        return (widths, ) * num_levels
    widths = tuple(int(w) for w in widths)
    if len(widths) != num_levels:
        raise ValueError(f'{owner}: {what} gives {len(widths)} widths '
                         f'{list(widths)} for {num_levels} levels.')
    return widths


@MODELS.register_module()
class FeatureAdapter(nn.Module):
    """Maps student features into the teacher's channel space for a loss.

    FitNet's "regressor": one 1x1 convolution per level (levels differ in
    semantics, so they do not share one). Used only in training; it is not
    part of the deployed student.

    The widths may differ from level to level (YOLO-style necks): each
    level gets its own ``student -> teacher`` conv, and in mode ``'auto'``
    a level whose widths match passes unchanged. The state dict holds
    ``convs.<level>.weight`` (and ``.bias``) for the levels with a conv
    only, so with one width per detector it is what it always was: every
    level's conv, or none.

    Args:
        student_channels: Channels of the student's features: one count
            for every level, or one per level.
        teacher_channels: The same for the teacher's features.
        num_levels: Number of feature levels.
        mode: ``'auto'`` (a conv only where the channels differ), ``'conv'``
            (on every level) or ``'none'`` (never; the channels must match).
        bias: Whether the convs have a bias. A bias-free adapter is linear,
            so adapting a sum equals the sum of the adapted parts (RKD and
            ResKD rely on this).
    """

    def __init__(self,
                 student_channels: Widths,
                 teacher_channels: Widths,
                 num_levels: int,
                 mode: str = 'auto',
                 bias: bool = True) -> None:
        super().__init__()
        if mode not in ADAPTER_MODES:
            raise ValueError(f'FeatureAdapter: unknown mode {mode!r}; choose '
                             f'one of {ADAPTER_MODES}.')
        pairs = list(zip(
            level_widths(student_channels, num_levels, 'student_channels',
                         'FeatureAdapter'),
            level_widths(teacher_channels, num_levels, 'teacher_channels',
                         'FeatureAdapter')))
        if mode == 'none' and any(s != t for s, t in pairs):
            raise ValueError(
                f'FeatureAdapter: student features have '
                f'{_describe(s for s, _ in pairs)} channels, the teacher\'s '
                f'{_describe(t for _, t in pairs)}; with adapter mode '
                '"none" they must match. Use mode "auto".')
        use_conv = [mode == 'conv' or (mode == 'auto' and s != t)
                    for s, t in pairs]
        self.convs = None  # no conv on any level: no parameters at all
        if any(use_conv):
            self.convs = nn.ModuleList(
                nn.Conv2d(s, t, 1, bias=bias) if conv else nn.Identity()
                for (s, t), conv in zip(pairs, use_conv))

    def forward(self, feats: Sequence[Tensor]) -> List[Tensor]:
        """Adapts each level (identity where a level has no conv)."""
        if self.convs is None:
            return list(feats)
        if len(feats) != len(self.convs):
            raise ValueError(f'FeatureAdapter: got {len(feats)} levels, '
                             f'built for {len(self.convs)}.')
        return [conv(f) for conv, f in zip(self.convs, feats)]


def _describe(widths) -> str:
    widths = list(widths)
    return str(widths[0]) if len(set(widths)) == 1 else str(widths)
