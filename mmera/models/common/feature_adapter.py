"""Per-level 1x1 adapters from student feature channels to teacher ones."""
from typing import List, Sequence

from torch import Tensor, nn

from mmdet.registry import MODELS

ADAPTER_MODES = ('auto', 'conv', 'none')


@MODELS.register_module()
class FeatureAdapter(nn.Module):
    """Maps student features into the teacher's channel space for a loss.

    FitNet's "regressor": one 1x1 convolution per level (levels differ in
    semantics, so they do not share one). Used only in training; it is not
    part of the deployed student.

    Args:
        student_channels: Channels of the student's features.
        teacher_channels: Channels of the teacher's features.
        num_levels: Number of feature levels.
        mode: ``'auto'`` (a conv only when the channels differ), ``'conv'``
            (always) or ``'none'`` (never; the channels must match).
        bias: Whether the convs have a bias. A bias-free adapter is linear,
            so adapting a sum equals the sum of the adapted parts (RKD and
            ResKD rely on this).
    """

    def __init__(self,
                 student_channels: int,
                 teacher_channels: int,
                 num_levels: int,
                 mode: str = 'auto',
                 bias: bool = True) -> None:
        super().__init__()
        if mode not in ADAPTER_MODES:
            raise ValueError(f'FeatureAdapter: unknown mode {mode!r}; choose '
                             f'one of {ADAPTER_MODES}.')
        use_conv = mode == 'conv' or (mode == 'auto'
                                      and student_channels != teacher_channels)
        if not use_conv and student_channels != teacher_channels:
            raise ValueError(
                f'FeatureAdapter: student features have {student_channels} '
                f'channels, the teacher\'s {teacher_channels}; with '
                'adapter mode "none" they must match. Use mode "auto".')
        self.convs = nn.ModuleList(
            nn.Conv2d(student_channels, teacher_channels, 1, bias=bias)
            for _ in range(num_levels)) if use_conv else None

    def forward(self, feats: Sequence[Tensor]) -> List[Tensor]:
        """Adapts each level (identity without convs)."""
        if self.convs is None:
            return list(feats)
        if len(feats) != len(self.convs):
            raise ValueError(f'FeatureAdapter: got {len(feats)} levels, '
                             f'built for {len(self.convs)}.')
        return [conv(f) for conv, f in zip(self.convs, feats)]
