"""RKD: Residual Knowledge Distillation (Gao et al. 2020, arXiv 2002.09168)."""
from typing import List, Optional, Tuple

from mmdet.models.necks import FPN
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from torch import Tensor

from ..common.base_distiller import BaseDistiller, ConfigLike
from ..common.detector_losses import detector_losses
from ..common.feature_adapter import ADAPTER_MODES, FeatureAdapter
from ..common.utils import check_weight
from ..losses import (
    DEFAULT_FEATURE_NORM,
    check_feature_norm,
    feature_mse,
    teacher_level_norms,
)
from .residual_split_fpn import ResidualSplitFPN


@MODELS.register_module()
class RKDDistiller(BaseDistiller):
    """Distils a single-stage FPN detector with RKD, at the student's cost.

    The student ``S`` mimics the teacher's FPN features ``T``; an assistant
    ``A`` learns the residual ``T - S``; the head sees ``S + A``. Both are
    carved out of the student's own FPN by :class:`ResidualSplitFPN`: each
    output conv is split along its input channels, so ``S + A`` is exactly
    the plain student's FPN output, the training-time student has the plain
    student's parameters and FLOPs, and the deployed model is the unchanged
    plain student (export = the ``student.*`` weights, no conversion).

    Training step, top to bottom (:meth:`loss`):

    1. backbone, then the split FPN: ``S_l``, ``A_l`` per level;
    2. the student's detection losses on ``S_l + A_l`` (the plain forward);
    3. frozen teacher features ``T_l`` (no grad);
    4. ``loss_mimic = mimic_weight * mean_l MSE(P(S_l), T_l) / n_l`` and
       ``loss_residual = residual_weight * mean_l MSE(P(A_l), T_l -
       P(S_l).detach()) / n_l``, with ``P`` a bias-free 1x1 adapter when the
       channels differ (linear: ``P(S) + P(A) = P(S + A)``, so the head's
       input still approximates ``T`` after adaptation) and ``n_l`` 1 or the
       teacher level's variance (``feature_norm='teacher_std'``).

    The detached target keeps the residual loss off the student half: it
    trains ``W[:, h:]`` (and, through the shared laterals and backbone,
    the trunk) to explain what ``S`` misses, while ``W[:, :h]`` and the bias
    learn only from the mimic and detection losses.

    Inference (:meth:`predict`) is the student alone: ``S + A`` is its plain
    forward.

    Args:
        student: The student detector (single-stage, mmdet ``FPN`` neck with
            linear output convs, the default). The teacher's neck may be
            any whose strides are the student's, its levels of different
            widths included (YOLO necks: a 1x1 adapter per level).
        teacher_config: The teacher's config (path, ``mmdet::`` path or dict).
        teacher_ckpt: The teacher's weights (local path or URL).
        split_ratio: Fraction of each FPN output conv's input channels given
            to the student half ``S``; the rest feeds the assistant ``A``.
        mimic_weight: Weight of the mimic loss on ``S``.
        residual_weight: Weight of the assistant's residual loss.
        adapter: ``'auto'`` (a bias-free 1x1 conv on each level whose
            channels differ), ``'conv'`` (always) or ``'none'``.
        feature_norm: ``'teacher_std'`` (default: each level's MSE divided
            by the teacher feature's variance, as ERA: scale-free across
            levels and teachers, so one weight fits all) or ``'none'``
            (plain MSE).
        data_preprocessor: Defaults to the student's.
        init_cfg: Passed to :class:`BaseDistiller`.
        mimic_norm: Removed (renamed ``feature_norm``); giving it raises a
            ValueError that says so.
    """

    needs_teacher = True

    def __init__(self,
                 student: ConfigLike,
                 teacher_config: ConfigLike,
                 teacher_ckpt: Optional[str] = None,
                 split_ratio: float = 0.5,
                 mimic_weight: float = 1.0,
                 residual_weight: float = 1.0,
                 adapter: str = 'auto',
                 feature_norm: str = DEFAULT_FEATURE_NORM,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None,
                 mimic_norm: Optional[str] = None) -> None:
        check_weight('mimic_weight', mimic_weight, 'RKDDistiller')
        check_weight('residual_weight', residual_weight, 'RKDDistiller')
        check_feature_norm('RKDDistiller', feature_norm, mimic_norm)
        if adapter not in ADAPTER_MODES:
            raise ValueError(f'RKDDistiller: unknown adapter {adapter!r}; '
                             f'choose one of {ADAPTER_MODES}.')
        super().__init__(student, teacher_config, teacher_ckpt,
                         data_preprocessor, init_cfg)
        # the split needs the student's FPN; the teacher's levels may each
        # have their own width (a YOLO neck): one adapter conv per level
        s_channels, t_channels = self.pair_detectors(
            all_levels=True, neck_types=(FPN, ), per_level=True)
        try:
            split_neck = ResidualSplitFPN(self.student.neck, split_ratio)
        except ValueError as err:
            raise ValueError(f'RKDDistiller: {err}') from err
        # A view of student.neck, kept out of the module tree: its
        # parameters are the student's and must not appear twice in
        # parameters() or in checkpoints.
        object.__setattr__(self, 'split_neck', split_neck)
        self.adapter = FeatureAdapter(
            s_channels, t_channels, len(self.pairing.strides), mode=adapter,
            bias=False)  # linear, so P(S) + P(A) = P(S + A)
        self.split_ratio = float(split_ratio)
        self.mimic_weight = mimic_weight
        self.residual_weight = residual_weight
        self.feature_norm = feature_norm

    def split_features(self, batch_inputs: Tensor
                       ) -> Tuple[List[Tensor], List[Tensor]]:
        """Backbone and split FPN: ``(S, A)`` lists, one map per level."""
        return self.split_neck(self.student.backbone(batch_inputs))

    def loss(self, batch_inputs: Tensor,
             batch_data_samples: SampleList) -> dict:
        """The student's detection losses (on ``S + A``) plus ``rkd.*``."""
        s_feats, a_feats = self.split_features(batch_inputs)
        head_feats = [s + a for s, a in zip(s_feats, a_feats)]
        losses = detector_losses(self.student, head_feats, batch_data_samples)

        teacher_feats = self.teacher_features(batch_inputs, batch_data_samples)
        self.check_feature_shapes(s_feats, teacher_feats)
        rkd = self.rkd_losses(s_feats, a_feats, teacher_feats)
        return self.merge_losses(losses, rkd, prefix='rkd')

    def rkd_losses(self, s_feats: List[Tensor], a_feats: List[Tensor],
                   teacher_feats: List[Tensor]) -> dict:
        """The weighted mimic and residual losses (see the class docstring).

        Args:
            s_feats: The student halves ``S_l``.
            a_feats: The assistant halves ``A_l``.
            teacher_feats: The teacher's ``T_l`` (treated as constants).

        Returns:
            dict: ``loss_mimic`` and ``loss_residual``, averaged over levels.
        """
        teacher_feats = [t.detach() for t in teacher_feats]
        norms = teacher_level_norms(teacher_feats, self.feature_norm)
        adapted_s = self.adapter(s_feats)
        # the assistant's target: what the (fixed) student half misses
        misses = [t - s.detach() for s, t in zip(adapted_s, teacher_feats)]
        return dict(
            loss_mimic=self.mimic_weight * feature_mse(
                adapted_s, teacher_feats, norms),
            loss_residual=self.residual_weight * feature_mse(
                self.adapter(a_feats), misses, norms))
