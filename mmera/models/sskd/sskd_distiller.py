"""SSKD: stage-by-stage knowledge distillation (Gao et al., 2019)."""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmdet.registry import MODELS
from mmdet.structures import OptSampleList, SampleList
from torch import Tensor, nn

from ..common.base_distiller import BaseDistiller, ConfigLike
from ..common.feature_adapter import FeatureAdapter
from ..common.feature_pairing import check_single_branch, dry_run_shapes

Shape = Tuple[int, int, int]  # (channels, height, width) of one output


@MODELS.register_module()
class SSKDDistiller(BaseDistiller):
    """Trains a student detector in phases: backbone stages, then the task.

    The schedule has ``P + 1`` phases, ``P = len(stage_pairs)``; a pair
    ``(s, t)`` joins student backbone output ``s`` and teacher backbone output
    ``t`` of the same stride. :class:`SSKDStageHook` picks the phase from the
    iteration (or epoch) and calls :meth:`set_phase`.

    * phase ``p < P`` (mimic): the student backbone stages that compute
      output ``s_p`` and were not trained by an earlier phase (the stem joins
      the first phase; student outputs without a teacher stride join the next
      pair) and the 1x1 adapter ``p`` learn ``MSE(adapter_p(S_p), T_p)``;
      nothing else changes. There is no detection loss, so no KD weight.
    * phase ``P`` (task): the whole backbone is frozen; the rest of the
      student (neck and head) learns with its own detection loss only.

    Frozen means ``requires_grad=False`` (the optimizer sees no gradient: no
    step, no weight decay) and eval mode (BN running statistics stay), also
    after every ``train()`` call. All parameters stay trainable until the
    first :meth:`set_phase`, because DDP, which wraps the model before the
    hook runs, reduces only the parameters that require grad at wrap time.

    Args:
        student: The student detector; its backbone must be splittable into
            stages (mmdet ResNet family: ``res_layers``; MobileNetV2,
            CSPDarknet: ``layers``).
        teacher_config: The teacher's config (path, ``mmdet::`` path or dict).
        teacher_ckpt: The teacher's weights (local path or URL).
        stage_pairs: ``[(student_out_idx, teacher_out_idx), ...]`` (positions
            in the backbones' output tuples), or ``None`` to pair every
            trainable student output with the deepest teacher output of its
            stride.
        adapter: ``'conv'`` (a 1x1 conv per pair, the default), ``'auto'``
            (a conv only where the channels differ) or ``'none'``.
        probe_size: Side of the blank image both backbones run on once, here,
            to measure their output strides and channels.
        data_preprocessor: Defaults to the student's.
        init_cfg: Passed to :class:`BaseDistiller`.
    """

    needs_teacher = True

    def __init__(self,
                 student: ConfigLike,
                 teacher_config: ConfigLike,
                 teacher_ckpt: Optional[str] = None,
                 stage_pairs: Optional[Sequence[Sequence[int]]] = None,
                 adapter: str = 'conv',
                 probe_size: int = 128,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(student, teacher_config, teacher_ckpt,
                         data_preprocessor, init_cfg)
        for role, det in (('student', self.student), ('teacher',
                                                      self.teacher)):
            if not isinstance(getattr(det, 'backbone', None), nn.Module):
                raise ValueError(f'SSKDDistiller: the {role} '
                                 f'({type(det).__name__}) has no backbone.')
        check_single_branch(self.student, 'SSKDDistiller')
        groups = backbone_stage_groups(self.student.backbone)
        s_shapes = dry_run_shapes(self.student.backbone, size=probe_size)
        t_shapes = dry_run_shapes(self.teacher.backbone, size=probe_size)
        if len(s_shapes) != len(groups):
            # e.g. DetectoRS's backbone also returns its input image
            # (output_img=True) for the recursive feature pyramid
            raise ValueError(
                f'SSKDDistiller: the student backbone '
                f'{type(self.student.backbone).__name__} returns '
                f'{len(s_shapes)} maps for its {len(groups)} output stages, '
                'so its outputs cannot be matched to the stages trained '
                'one phase each. Use FitNet, PKD or ERA, which distil the '
                'neck\'s outputs.')
        # What the student's own config freezes (frozen_stages, BN
        # requires_grad=False) stays frozen in every phase.
        trainable = [n for n, p in self.named_parameters() if p.requires_grad]
        counts = [
            sum(any(_under(n, f'student.backbone.{m}') for m in group)
                for n in trainable) for group in groups
        ]
        self.stage_pairs = resolve_stage_pairs(stage_pairs, s_shapes,
                                               t_shapes, counts, probe_size)
        self.stage_strides = [probe_size // s_shapes[s][1]
                              for s, _ in self.stage_pairs]
        self.adapters = nn.ModuleList(
            FeatureAdapter(s_shapes[s][0], t_shapes[t][0], 1, mode=adapter)
            for s, t in self.stage_pairs)
        # Module prefixes each phase trains: backbone stages + adapter, then
        # everything of the student after its backbone.
        self.phase_modules: List[List[str]] = []
        start = 0
        for p, (s, _) in enumerate(self.stage_pairs):
            stages = [m for g in groups[start:s + 1] for m in g]
            self.phase_modules.append(
                [f'student.backbone.{m}' for m in stages] + [f'adapters.{p}'])
            start = s + 1
        self.phase_modules.append([
            f'student.{n}' for n, m in self.student.named_children()
            if n != 'backbone' and any(True for _ in m.parameters())
        ])
        self._config_trainable = set(trainable) | {
            f'adapters.{n}' for n, _ in self.adapters.named_parameters()}
        self.phase: Optional[int] = None

    # -- phases ---------------------------------------------------------------
    @property
    def num_pairs(self) -> int:
        """``P``: the number of mimic phases; phase ``P`` is the task."""
        return len(self.stage_pairs)

    def trainable_names(self, phase: int) -> List[str]:
        """Names of the parameters that learn in ``phase``."""
        prefixes = self.phase_modules[self._check_phase(phase)]
        return [
            n for n, _ in self.named_parameters() if n in
            self._config_trainable and any(_under(n, m) for m in prefixes)
        ]

    def describe_phase(self, phase: int) -> str:
        """A one-line description of ``phase`` for the log."""
        prefixes = self.phase_modules[self._check_phase(phase)]
        modules = ', '.join(
            m.replace('student.', '').replace('backbone.', '')
            for m in prefixes)
        if phase == self.num_pairs:
            return (f'task: backbone frozen; {modules} learn with the '
                    'detection loss')
        s, t = self.stage_pairs[phase]
        return (f'mimic: student backbone output {s} -> teacher output {t} '
                f'(stride {self.stage_strides[phase]}); {modules} learn')

    def set_phase(self, phase: int) -> None:
        """Makes ``phase``'s modules trainable and freezes all others.

        Idempotent. In training mode the modes are re-applied at once (the
        new phase's modules back to train, the frozen ones to eval); in eval
        mode by the next :meth:`train`.
        """
        trainable = set(self.trainable_names(phase))
        for name, param in self.named_parameters():
            param.requires_grad_(name in trainable)
        self.phase = phase
        if self.training:
            self.train(True)

    def train(self, mode: bool = True) -> 'SSKDDistiller':
        """Sets the mode; the current phase's frozen modules stay in eval."""
        super().train(mode)
        if mode and self.phase is not None:
            self._freeze_modes()
        return self

    def _freeze_modes(self) -> None:
        # Non-recursive, per module: a frozen module goes to eval; modules in
        # or above a trainable one keep the mode train() gave them (ResNet's
        # norm_eval and frozen_stages included).
        prefixes = self.phase_modules[self.phase]
        for name, module in self.named_modules():
            if not any(_under(name, m) or _under(m, name) for m in prefixes):
                module.training = False

    def _check_phase(self, phase: int) -> int:
        if not isinstance(phase, int) or not 0 <= phase <= self.num_pairs:
            raise ValueError(
                f'SSKDDistiller: phase must be an int in [0, '
                f'{self.num_pairs}] ({self.num_pairs} mimic phases, then '
                f'the task phase), got {phase!r}.')
        return phase

    # -- training -------------------------------------------------------------
    @torch.no_grad()
    def teacher_backbone_features(self, batch_inputs: Tensor,
                                  batch_data_samples: OptSampleList = None
                                  ) -> List[Tensor]:
        """The frozen teacher's backbone outputs (no neck, no head), its
        input normalised as its own data preprocessor would."""
        if not self.teacher_loaded:
            self.load_teacher()
        return list(self.teacher.backbone(
            self.teacher_inputs(batch_inputs, batch_data_samples)))

    def loss(self, batch_inputs: Tensor,
             batch_data_samples: SampleList) -> Dict[str, Tensor]:
        """The mimic loss of the current stage pair, or in the task phase
        the student's detection losses; ``sskd.phase`` is logged."""
        if self.phase is None:
            raise ValueError(
                'SSKDDistiller: no phase is set. Add dict(type='
                '"SSKDStageHook", stage_boundaries=[...]) with '
                f'{self.num_pairs} boundaries to custom_hooks, or call '
                'set_phase(p) before training.')
        info = dict(phase=batch_inputs.new_tensor(float(self.phase)))
        if self.phase == self.num_pairs:
            return self.merge_losses(
                self.student.loss(batch_inputs, batch_data_samples), info,
                prefix='sskd')
        s, t = self.stage_pairs[self.phase]
        # Later student stages run too but are frozen and out of the loss.
        student_feat = self.student.backbone(batch_inputs)[s]
        teacher_feat = self.teacher_backbone_features(
            batch_inputs, batch_data_samples)[t]
        self.check_feature_shapes([student_feat], [teacher_feat],
                                  what=f'stage pair {self.phase}')
        adapted = self.adapters[self.phase]([student_feat])[0]
        info['loss_mimic'] = F.mse_loss(adapted, teacher_feat)
        return self.merge_losses({}, info, prefix='sskd')


def _under(name: str, prefix: str) -> bool:
    """Whether ``name`` is ``prefix`` or inside it (dotted module paths)."""
    return prefix == '' or name == prefix or name.startswith(prefix + '.')


def backbone_stage_groups(backbone: nn.Module) -> List[List[str]]:
    """Splits a backbone into the child modules that compute each output.

    Group ``k`` holds the stage modules after output ``k - 1`` up to output
    ``k``; the stem (every other child) joins group 0.

    Raises:
        ValueError: For a backbone without an ordered list of stage modules
            (``res_layers`` or ``layers``) indexed by ``out_indices``.
    """
    stages = getattr(backbone, 'res_layers', None)
    if stages is None:
        stages = getattr(backbone, 'layers', None)
    out_indices = getattr(backbone, 'out_indices', None)
    if (not isinstance(stages, (list, tuple)) or not out_indices
            or not all(isinstance(n, str) and isinstance(
                getattr(backbone, n, None), nn.Module) for n in stages)):
        raise ValueError(
            f'SSKDDistiller: cannot split the student backbone '
            f'{type(backbone).__name__} into stages. Supported: backbones '
            'that run an ordered list of named stage modules and return the '
            'outputs listed in `out_indices` (mmdet ResNet, ResNetV1d, '
            'ResNeXt, RegNet: `res_layers`; MobileNetV2, CSPDarknet: '
            '`layers`).')
    stages = list(stages)
    stem = [n for n, _ in backbone.named_children() if n not in stages]
    groups, start = [], 0
    for idx in sorted(out_indices):
        groups.append(stages[start:idx + 1])
        start = idx + 1
    groups[0] = stem + groups[0]
    return groups


def resolve_stage_pairs(stage_pairs: Optional[Sequence[Sequence[int]]],
                        s_shapes: Sequence[Shape], t_shapes: Sequence[Shape],
                        trainable_counts: Sequence[int],
                        probe_size: int) -> List[Tuple[int, int]]:
    """Checks explicit stage pairs, or pairs the outputs by stride.

    Args:
        stage_pairs: ``(student_out_idx, teacher_out_idx)`` pairs or None.
        s_shapes: The student's and ...
        t_shapes: ... the teacher's backbone output shapes on the probe.
        trainable_counts: Trainable parameters of each student stage group.
        probe_size: The probe image's side (for strides in messages).

    Returns:
        list: The pairs, in increasing order.

    Raises:
        ValueError: Naming the bad pair or the untrainable stage and the fix.
    """
    def stride(shape: Shape) -> int:
        return probe_size // shape[1]

    if stage_pairs is None:
        pairs, pending = [], 0
        for s, shape in enumerate(s_shapes):
            pending += trainable_counts[s]
            same = [t for t, ts in enumerate(t_shapes)
                    if ts[1:] == shape[1:]]
            # No teacher stride, or nothing to train yet: join the next pair.
            if same and pending:
                pairs.append((s, same[-1]))
                pending = 0
        if not pairs:
            raise ValueError(
                'SSKDDistiller: no teacher backbone output has the stride of '
                f'a trainable student output (student strides '
                f'{[stride(x) for x in s_shapes]}, teacher strides '
                f'{[stride(x) for x in t_shapes]}); fix the out_indices.')
    else:
        pairs = []
        for pair in stage_pairs:
            if not isinstance(pair, (list, tuple)) or len(pair) != 2 or \
                    not all(isinstance(i, int) for i in pair):
                raise ValueError(
                    'SSKDDistiller: stage_pairs must be (student_out_idx, '
                    f'teacher_out_idx) int pairs, got {pair!r}.')
            pairs.append((pair[0], pair[1]))
        if not pairs:
            raise ValueError('SSKDDistiller: stage_pairs is empty; give at '
                             'least one pair or None for automatic pairing.')
        last_s = last_t = -1
        for s, t in pairs:
            if not (last_s < s < len(s_shapes) and last_t < t < len(t_shapes)):
                raise ValueError(
                    f'SSKDDistiller: bad stage pair {(s, t)} in {pairs}: '
                    'indices must increase from pair to pair and be below '
                    f'{len(s_shapes)} (student) and {len(t_shapes)} '
                    '(teacher backbone outputs).')
            if s_shapes[s][1:] != t_shapes[t][1:]:
                raise ValueError(
                    f'SSKDDistiller: stage pair {(s, t)}: student output {s} '
                    f'has stride {stride(s_shapes[s])}, teacher output {t} '
                    f'stride {stride(t_shapes[t])}; pair outputs of the same '
                    'stride (or set stage_pairs=None).')
            if not sum(trainable_counts[last_s + 1:s + 1]):
                raise ValueError(
                    f'SSKDDistiller: stage pair {(s, t)} has nothing to '
                    f'train: the student stages up to output {s} are frozen '
                    'by the backbone config (frozen_stages); drop the pair.')
            last_s, last_t = s, t
    tail = sum(trainable_counts[pairs[-1][0] + 1:])
    if tail:
        raise ValueError(
            f'SSKDDistiller: student backbone outputs after output '
            f'{pairs[-1][0]} (strides '
            f'{[stride(x) for x in s_shapes[pairs[-1][0] + 1:]]}) have no '
            'teacher output of their stride, so no phase would train them '
            'and the task phase keeps the backbone frozen. Give the teacher '
            'an output of that stride (its out_indices) or pair them in '
            'stage_pairs.')
    return pairs
