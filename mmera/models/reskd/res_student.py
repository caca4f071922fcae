"""ResStudent: a light backbone + FPN whose output is added to a student's,
and the arithmetic of a chain of them (combined features, residual targets)."""
import copy
from typing import List, Optional, Sequence, Union

import torch
from mmdet.registry import MODELS
from mmengine.model import BaseModule, constant_init
from torch import Tensor, nn

Levels = List[Tensor]
# A ResNet-18 at 1/8 width (stage widths 8..64) and an FPN; the FPN's width,
# levels and strides are filled in from the student's (res_student_configs).
DEFAULT_RES_STUDENT = dict(
    backbone=dict(type='ResNet', depth=18, base_channels=8,
                  out_indices=(0, 1, 2, 3), frozen_stages=-1,
                  norm_eval=False, init_cfg=None),
    neck=dict(type='FPN'))
# Copied from the student's neck config into a res-student's neck of the same
# type (unless set there), so both produce the same levels at the same strides.
SHARED_NECK_KEYS = ('start_level', 'end_level', 'add_extra_convs', 'num_outs',
                    'relu_before_extra_convs')
# The probe that finds the backbone's channels: small, but every stride of a
# ResNet-like backbone (down to 32) still leaves at least 2x2 pixels.
_PROBE_SIZE = 64


@MODELS.register_module()
class ResStudent(BaseModule):
    """Maps an image to features shaped like a student's FPN output.

    A ResKD "res-student" (Li et al., TIP 2021): a much lighter detector
    trunk (any mmdet backbone + neck, e.g. ResNet-18 at 1/8 width and a
    narrow FPN) whose per-level output ``R`` is added to the student's FPN
    features ``S``, so the student's head can predict from ``S + R``.

    When the neck's width differs from ``out_channels`` a per-level 1x1 conv
    projects it up: the 3x3 FPN convs then run at the neck's narrow width,
    which is where most of a full-width FPN's FLOPs are (e.g. 64 instead of
    256 channels costs 1/16 of them).

    With ``zero_init_output`` the layer producing the output (the projection,
    or else the FPN's output convs) starts at zero, so ``R = 0`` when the
    res-student joins training: ``S + R`` equals ``S`` at that moment and the
    shared head is not disturbed by a random addend. Gradients still reach
    that layer (its input is non-zero) and, after the first update, the rest.

    Args:
        backbone: The backbone config (e.g. ``ResNet`` depth 18,
            ``base_channels=8``).
        neck: The neck config (e.g. ``FPN``). ``in_channels`` may be left
            out: it is then read from the backbone's outputs on a small probe
            image. Its ``out_channels`` defaults to the argument below.
        out_channels: Channels of every output level (the student's FPN
            channels).
        zero_init_output: Start the output at exactly zero (see above).
        init_cfg: Passed to :class:`BaseModule`.
    """

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 out_channels: int,
                 zero_init_output: bool = True,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if out_channels < 1:
            raise ValueError(f'ResStudent: out_channels must be >= 1, got '
                             f'{out_channels}.')
        self.backbone = MODELS.build(copy.deepcopy(backbone))
        neck = copy.deepcopy(dict(neck))
        if 'in_channels' not in neck:
            neck['in_channels'] = self._probe_backbone_channels()
        neck.setdefault('out_channels', out_channels)
        self.neck = MODELS.build(neck)
        self.out_channels = out_channels
        self.zero_init_output = zero_init_output
        neck_channels = neck['out_channels']
        # Per-level projections (the levels differ in semantics, as in the
        # FPN itself); absent when the neck is already at full width.
        self.out_convs = nn.ModuleList(
            nn.Conv2d(neck_channels, out_channels, 1)
            for _ in range(self.neck.num_outs)
        ) if neck_channels != out_channels else None
        if (zero_init_output and self.out_convs is None
                and not hasattr(self.neck, 'fpn_convs')):
            raise ValueError(
                f'ResStudent: zero_init_output needs an output layer to '
                f'zero, but {type(self.neck).__name__} has no fpn_convs; '
                'give the neck a narrower out_channels (adds a 1x1 '
                'projection) or set zero_init_output=False.')

    @torch.no_grad()
    def _probe_backbone_channels(self) -> List[int]:
        # Eval mode: the probe must not touch BN running statistics.
        was_training = self.backbone.training
        self.backbone.eval()
        in_ch = getattr(self.backbone, 'in_channels', 3)
        outs = self.backbone(torch.zeros(1, in_ch, _PROBE_SIZE, _PROBE_SIZE))
        self.backbone.train(was_training)
        return [int(o.shape[1]) for o in outs]

    def init_weights(self) -> None:
        """Initialises backbone and neck, then zeroes the output layer."""
        super().init_weights()
        if not self.zero_init_output:
            return
        if self.out_convs is not None:
            for conv in self.out_convs:
                constant_init(conv, 0.0)
        else:
            # Every FPN output (extra levels included) comes out of an
            # fpn_conv, or is a max-pool of one: all zero with them.
            for module in self.neck.fpn_convs:
                constant_init(getattr(module, 'conv', module), 0.0)

    def forward(self, inputs: Tensor) -> List[Tensor]:
        """Returns one feature map per output level (``out_channels`` each).

        Args:
            inputs: Preprocessed images, ``(N, C, H, W)``.
        """
        feats = list(self.neck(self.backbone(inputs)))
        if self.out_convs is not None:
            feats = [conv(f) for conv, f in zip(self.out_convs, feats)]
        return feats


def res_student_configs(res_student: Union[dict, Sequence[dict], None],
                        num: int, student_neck: dict,
                        out_channels: int) -> List[dict]:
    """Completes ``num`` :class:`ResStudent` configs for a given student.

    Sets ``out_channels`` to the student's FPN channels and, when the neck
    types agree, copies the student neck's levels and strides
    (:data:`SHARED_NECK_KEYS`) into each res-student's neck unless set there.

    Args:
        res_student: One config shared by all, ``num`` configs, or ``None``
            for :data:`DEFAULT_RES_STUDENT`.
        num: How many res-students.
        student_neck: The student's neck config.
        out_channels: The student's FPN channels.

    Raises:
        ValueError: If a list of configs does not have ``num`` entries.
    """
    cfgs = res_student if isinstance(res_student, (list, tuple)) else [
        res_student or DEFAULT_RES_STUDENT] * num
    if len(cfgs) != num:
        raise ValueError(
            f'ResKDDistiller: {len(cfgs)} res_student configs for {num} '
            'res_student_start_iters; give one config (shared by all) or '
            'one per res-student.')
    out = []
    for cfg in cfgs:
        cfg = copy.deepcopy(dict(cfg))
        cfg.setdefault('type', 'ResStudent')
        cfg['out_channels'] = out_channels
        neck = dict(cfg.get('neck', dict(type='FPN')))
        if neck.get('type') == student_neck.get('type'):
            for key in SHARED_NECK_KEYS:
                if key in student_neck and key not in neck:
                    neck[key] = student_neck[key]
        cfg['neck'] = neck
        out.append(cfg)
    return out


def combined_features(student_feats: Levels,
                      res_feats: List[Levels]) -> List[Levels]:
    """``F_0 = S``, ``F_i = F_{i-1} + R_i``, per level: one list per depth."""
    prefixes = [list(student_feats)]
    for res in res_feats:
        prefixes.append([f + r for f, r in zip(prefixes[-1], res)])
    return prefixes


def residual_targets(adapter: nn.Module, student_feats: Levels,
                     res_feats: List[Levels],
                     teacher_feats: Levels) -> List[Levels]:
    """``(T - A(F_{i-1})).detach()``, the target of each given ``R_i``.

    With a linear ``A`` (a bias-free adapter), ``A(F_{i-1}) = A(S) +
    A(R_1) + ... + A(R_{i-1})``: ``R_i`` learns what the student and the
    earlier res-students still miss of ``T``.
    """
    prefixes = combined_features(student_feats, res_feats)
    return [[(t - a).detach() for t, a in zip(teacher_feats, adapter(f))]
            for f in prefixes[:len(res_feats)]]
