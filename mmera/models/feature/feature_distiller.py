"""FPN feature imitation: the generic distiller, FitNet and PKD."""
from typing import Dict, List, Optional, Sequence

from mmdet.registry import MODELS
from mmdet.structures import SampleList
from torch import Tensor

from ..common.base_distiller import BaseDistiller, ConfigLike
from ..common.detector_losses import detector_losses
from ..common.feature_adapter import FeatureAdapter


@MODELS.register_module()
class FeatureDistiller(BaseDistiller):
    """Trains a single-stage student to imitate a teacher's neck features.

    Training step, top to bottom (:meth:`loss`):

    1. student neck features ``S`` and the student's own detection losses
       (its ``bbox_head.loss``, unchanged);
    2. frozen teacher neck features ``T`` (no grad, the teacher's own input
       normalisation), at the strides both have (paired by stride,
       :mod:`mmera.models.common.feature_pairing`);
    3. for each distilled level ``l``: ``distill_loss(adapter_l(S_l), T_l)``;
       the levels' losses are summed into ``<prefix>.loss_feat``.

    Normalisation: each level's loss is reduced by ``distill_loss`` itself
    (``mmdet.MSELoss``: mean over the N*C*H*W elements;
    :class:`PearsonFeatureLoss`: mean over channels of ``1 - r``), and the
    levels are summed, as in MMRazor (one loss term per level). So
    ``loss_weight`` is a per-level weight: every level counts equally
    whatever its resolution, and the total grows with ``len(levels)``.

    Only the teacher's backbone and neck run; its head is never used, so the
    teacher may be any detector with a stride in common (another head, neck
    or class set included). The adapter (student ->
    teacher channels) is used only in training: :meth:`predict` is the
    student alone, and the exported student is a stock mmdet detector.

    Args:
        student: The student: a single-stage detector (any neck).
        teacher_config: The teacher's config (path, ``mmdet::`` path or dict).
        teacher_ckpt: The teacher's weights (local path or URL).
        distill_loss: A registered loss applied per level as
            ``loss(student, teacher)`` that returns a scalar, e.g.
            ``dict(type='mmdet.MSELoss', loss_weight=1.0)`` or
            ``dict(type='PearsonFeatureLoss', loss_weight=6.0)``. Without a
            ``type`` its keys update the class's default loss; ``None`` gives
            that default.
        adapter: ``'auto'`` (a 1x1 conv on each level whose channels
            differ), ``'conv'`` (always) or ``'none'`` (channels must match);
            see :class:`FeatureAdapter`. The levels may differ in width
            (YOLO necks): each level's conv maps its own widths. ``None``
            gives the class's ``default_adapter``.
        levels: Indices into the paired strides to distil (0 = finest);
            ``None`` distils all.
        data_preprocessor: Defaults to the student's.
        init_cfg: Passed to :class:`BaseDistiller`.
    """

    needs_teacher = True
    #: Prefix of the logged loss, e.g. ``'fitnet'`` gives ``fitnet.loss_feat``.
    loss_prefix = 'feat'
    #: ``distill_loss`` when none (or one without ``type``) is given.
    default_loss = dict(type='mmdet.MSELoss', loss_weight=1.0)
    #: ``adapter`` when none is given.
    default_adapter = 'auto'

    def __init__(self,
                 student: ConfigLike,
                 teacher_config: ConfigLike,
                 teacher_ckpt: Optional[str] = None,
                 distill_loss: Optional[dict] = None,
                 adapter: Optional[str] = None,
                 levels: Optional[Sequence[int]] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        name = type(self).__name__
        super().__init__(student, teacher_config, teacher_ckpt,
                         data_preprocessor, init_cfg)
        # Only the teacher's features are used: its head and classes are free.
        # Each level may have its own widths (YOLO necks): one adapter each.
        s_channels, t_channels = self.pair_detectors(per_level=True)
        self.levels = self._check_levels(levels, len(self.pairing.strides))
        try:
            self.adapter = FeatureAdapter([s_channels[i] for i in self.levels],
                                          [t_channels[i] for i in self.levels],
                                          len(self.levels),
                                          mode=adapter or self.default_adapter)
        except ValueError as err:
            raise ValueError(f'{name}: {err} (model key `adapter`)') from err
        self.distill_loss = MODELS.build(self._loss_cfg(distill_loss))

    def _check_levels(self, levels: Optional[Sequence[int]],
                      num_levels: int) -> List[int]:
        if levels is None:
            return list(range(num_levels))
        levels = list(levels)
        valid = all(
            isinstance(lvl, int) and not isinstance(lvl, bool)
            and 0 <= lvl < num_levels for lvl in levels)
        if not levels or not valid or len(set(levels)) != len(levels):
            raise ValueError(
                f'{type(self).__name__}: `levels` must be distinct level '
                f'indices in 0..{num_levels - 1} (student and teacher have '
                f'{num_levels} strides in common: {list(self.pairing.strides)}'
                f'), got {levels}; use None for all levels.')
        return levels

    def _loss_cfg(self, distill_loss: Optional[dict]) -> dict:
        if distill_loss is None:
            return dict(self.default_loss)
        if not isinstance(distill_loss, dict):
            raise ValueError(
                f'{type(self).__name__}: `distill_loss` must be a loss config '
                f'dict such as {self.default_loss}, got {distill_loss!r}.')
        if 'type' in distill_loss:
            return dict(distill_loss)
        return {**self.default_loss, **distill_loss}

    def loss(self, batch_inputs: Tensor,
             batch_data_samples: SampleList) -> Dict[str, Tensor]:
        """The student's detection losses plus ``<prefix>.loss_feat``."""
        student_feats = list(self.student.extract_feat(batch_inputs))
        losses = detector_losses(self.student, student_feats,
                                 batch_data_samples)

        teacher_feats = self.teacher_features(batch_inputs, batch_data_samples)
        paired = self.pairing.select_student(student_feats)
        self.check_feature_shapes(paired, teacher_feats)
        adapted = self.adapter([paired[lvl] for lvl in self.levels])
        level_losses = [
            self._level_loss(s, teacher_feats[lvl], lvl)
            for s, lvl in zip(adapted, self.levels)
        ]
        distill = dict(loss_feat=sum(level_losses))
        return self.merge_losses(losses, distill, prefix=self.loss_prefix)

    def _level_loss(self, student: Tensor, teacher: Tensor,
                    level: int) -> Tensor:
        value = self.distill_loss(student, teacher)
        if value.dim() != 0:
            raise ValueError(
                f'{type(self).__name__}: distill_loss returned shape '
                f'{tuple(value.shape)} at FPN level {level}; it must reduce '
                'to a scalar (e.g. reduction="mean").')
        return value


@MODELS.register_module()
class FitNetDistiller(FeatureDistiller):
    """FitNet hints (Romero et al. 2015) on every FPN level.

    A 1x1 conv "regressor" per level maps the student's features to the
    teacher's (always, even with equal channels: the regressor keeps the
    hint from forcing the student's own features to the teacher's basis),
    and the regressed features match the teacher's by MSE (mean over
    elements). As usual for detectors, the hint loss is added to the
    detection loss in one stage rather than FitNet's two-stage schedule.

    Args: as :class:`FeatureDistiller`, with ``distill_loss`` defaulting to
    ``dict(type='mmdet.MSELoss', loss_weight=1.0)`` and ``adapter='conv'``.
    """

    loss_prefix = 'fitnet'
    default_loss = dict(type='mmdet.MSELoss', loss_weight=1.0)
    default_adapter = 'conv'  # FitNet's regressor, even for equal widths


@MODELS.register_module()
class PKDDistiller(FeatureDistiller):
    """PKD (Cao et al. 2022): FPN imitation by Pearson correlation.

    Each level's student and teacher features are standardised per channel
    and compared with :class:`PearsonFeatureLoss` (``mean_c (1 - r_c)``),
    which ignores feature magnitudes. No adapter unless the channels differ
    (MMRazor's configs pair FPNs of equal width).

    Args: as :class:`FeatureDistiller`, with ``distill_loss`` defaulting to
    ``dict(type='PearsonFeatureLoss', loss_weight=6.0)`` (MMRazor's weight
    per FPN level) and ``adapter='auto'``.
    """

    loss_prefix = 'pkd'
    default_loss = dict(type='PearsonFeatureLoss', loss_weight=6.0)
    default_adapter = 'auto'
