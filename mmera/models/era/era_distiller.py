"""ERA: Expandable Residual Approximation for detector distillation."""
from typing import List, Optional, Sequence, Tuple

import torch
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from torch import Tensor

from ..common.base_distiller import BaseDistiller, ConfigLike
from ..common.detector_losses import detector_kind, detector_losses
from ..common.head_init import load_strictly
from ..common.utils import check_precision, check_weight
from .era_inference import check_inference_mode, head_name
from .mbrnet import MBRNet
from .teacher_head_reuse import TeacherHeadReuse
from .two_stage_head_reuse import TwoStageHeadReuse, build_twi, is_cascade

TWI_MODES = ('all', 'last', 'sampled', 'none')


@MODELS.register_module()
class ERADistiller(BaseDistiller):
    """Distils a detector with ERA (MBRNet + TWI).

    The student may be single- or two-stage (its own losses come from
    :func:`~mmera.models.common.detector_losses.detector_losses`); TWI and
    the T/ST modes need a teacher with a dense head, or a two-stage teacher
    of a two-stage student (:class:`TwoStageHeadReuse`; with Cascade R-CNN
    on either side ST is refused, see that module). A two-stage teacher of a
    single-stage student distils through MBRNet and the mimic loss
    (``twi_mode='none'``).

    Training step, top to bottom (:meth:`loss`):

    1. student features ``S`` and the student's own detection losses;
    2. frozen teacher features ``T`` (no grad), the teacher's input
       normalised as its own data preprocessor would;
    3. MBRNet on the student's maps at the strides the teacher's head reads
       (paired by stride, :mod:`mmera.models.common.feature_pairing`):
       ``P(S)`` and K branch predictions; feature-mimic and residual losses
       against ``T``;
    4. TWI: the frozen teacher head scores the approximations
       ``M_0..M_K`` against the ground truth with its own loss (weights
       ``twi_weights``); any mmdet dense head (RetinaNet, FCOS, ATSS, GFL,
       RTMDet, ...), see :class:`TeacherHeadReuse`.

    Inference (:meth:`predict`): ``'S'`` the student alone (the default; what
    :mod:`tools.export_student` exports), ``'T'`` the TWI head on ``M_K``,
    decoded by the teacher head's own ``predict_by_feat`` (with the
    student's ``test_cfg``: score threshold, NMS), ``'ST'`` the blend
    ``(1 - alpha) * S + alpha * T`` of every head output (class logits, box
    deltas or distances, centerness/IoU, distribution logits), decoded by the
    student head; ST needs heads that decode alike (same class, priors, box
    coder and strides). None of them needs the teacher's backbone or neck.

    Args:
        student: The student detector (a single-stage detector with a neck).
        teacher_config: The teacher's config (path, ``mmdet::`` path or dict).
        teacher_ckpt: The teacher's weights (local path or URL).
        mbrnet: MBRNet settings; the channel counts are filled in, per
            level where a neck's levels differ in width (YOLO necks; see
            :class:`MBRNet`).
        mimic_weight: Weight of the feature-mimic loss (reference: 5).
        residual_weight: Weight of MBRNet's residual loss.
        twi_weight: Overall weight of the TWI loss.
        twi_weights: Weight of each approximation M_0..M_K; defaults to 1 for
            M_0 and ``branch_scales[k-1] / K`` for M_k, as in the reference.
        twi_mode: ``'sampled'`` (default: one random k per step, weight
            scaled by K+1, an unbiased estimate of ``'all'`` at one head
            pass), ``'all'`` (K+1 approximations, one batched head pass),
            ``'last'`` (only M_K, weight = the sum of all weights), or
            ``'none'``.
        twi_probability: The chance, in (0, 1], that a training step runs
            TWI at all; a step that does weighs its TWI loss by
            ``1 / twi_probability`` (unbiased over steps), a step that does
            not logs ``era.loss_twi`` as 0. 1 (default): every step.
        twi_precision: The frozen teacher heads' training forward (and its
            input-gradient backward) precision: ``'fp32'``, or ``'bf16'`` /
            ``'fp16'`` under ``torch.autocast``, the losses computed on
            outputs cast back to float32; about half the TWI head's time on
            CPUs with bf16 support and on GPUs. ``'auto'`` (default):
            ``'bf16'`` where the device runs it natively (Ampere or later
            GPUs, CPUs with oneDNN bf16), else ``'fp32'``; a head with an op
            that has no bf16 kernel (mmcv's deformable convolution) runs in
            ``'fp32'``. Inference (T/ST) always runs in float32.
        twi_recompute: Score the K+1 approximations one at a time under
            activation checkpointing (dense-head teachers): the same loss
            and gradients at the memory of one head pass instead of K+1, for
            one more head forward per approximation; see
            :class:`TeacherHeadReuse`. Pays off with ``twi_mode='all'``.
        twi_detach_branches: Score M_k = P(S) + the branches' predictions
            detached, so TWI's gradient reaches the student through P(S)
            only and the branches learn from the residual loss alone (the
            ablations show TWI otherwise turns them into adapters for the
            teacher's head: they stop shrinking the residual). False
            (default): ERA as published, TWI trains the branches too.
        init_student_head: Copy the teacher head's weights into the student
            head at the start of training: all of them, with their shapes,
            or a ``ValueError`` naming what differs (the loader
            ``HeadInitHook`` shares,
            :func:`~mmera.models.common.head_init.load_strictly`).
        inference_mode: ``'S'``, ``'T'`` or ``'ST'``.
        alpha: Blend factor of ``'ST'`` in [0, 1].
        data_preprocessor: Defaults to the student's.
        init_cfg: Passed to :class:`BaseDistiller`.
    """

    needs_teacher = True

    def __init__(self,
                 student: ConfigLike,
                 teacher_config: Optional[ConfigLike] = None,
                 teacher_ckpt: Optional[str] = None,
                 mbrnet: Optional[dict] = None,
                 mimic_weight: float = 5.0,
                 residual_weight: float = 1.0,
                 twi_weight: float = 1.0,
                 twi_weights: Optional[Sequence[float]] = None,
                 twi_mode: str = 'sampled',
                 twi_probability: float = 1.0,
                 twi_precision: str = 'auto',
                 twi_recompute: bool = False,
                 twi_detach_branches: bool = False,
                 init_student_head: bool = False,
                 inference_mode: str = 'S',
                 alpha: float = 0.5,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(student, teacher_config, teacher_ckpt,
                         data_preprocessor, init_cfg)
        if twi_mode not in TWI_MODES:
            raise ValueError(f'ERADistiller: unknown twi_mode {twi_mode!r}; '
                             f'choose one of {TWI_MODES}.')
        for name, w in (('mimic_weight', mimic_weight), ('residual_weight',
                                                         residual_weight),
                        ('twi_weight', twi_weight)):
            check_weight(name, w, 'ERADistiller')
        check_precision('twi_precision', twi_precision, 'ERADistiller')
        if not 0 < twi_probability <= 1:
            raise ValueError('ERADistiller: twi_probability must be in '
                             f'(0, 1], got {twi_probability}.')
        (s_channels, t_channels), twi = self._check_pair(
            twi_mode, twi_precision, twi_recompute)
        mbrnet_cfg = dict(type='MBRNet', **(mbrnet or {}))
        mbrnet_cfg.update(  # one count per detector where the levels agree
            student_channels=_one_or_all(s_channels),
            teacher_channels=_one_or_all(t_channels))
        self.mbrnet: MBRNet = MODELS.build(mbrnet_cfg)
        num_branches = self.mbrnet.num_branches
        if twi_weights is None:
            twi_weights = [1.0] + [
                s / num_branches for s in self.mbrnet.branch_scales
            ]
        if len(twi_weights) != num_branches + 1:
            raise ValueError(
                f'ERADistiller: twi_weights needs K+1 = {num_branches + 1} '
                f'non-negative weights (M_0..M_K), got {list(twi_weights)}.')
        check_weight('twi_weights', twi_weights, 'ERADistiller')
        self.twi_weights = [float(w) for w in twi_weights]
        # TWI and the T/ST modes: the teacher's dense head, or its RPN and
        # RoI box head (two-stage teacher and student); None: MBRNet only
        self.twi = twi
        self.mimic_weight = mimic_weight
        self.residual_weight = residual_weight
        self.twi_weight = twi_weight
        self.twi_mode = twi_mode
        self.twi_probability = float(twi_probability)
        self.twi_detach_branches = bool(twi_detach_branches)
        self.init_student_head = init_student_head
        self.set_inference_mode(inference_mode, alpha)

    def _check_pair(self, twi_mode: str, twi_precision: str = 'fp32',
                    twi_recompute: bool = False):
        """Checks that student and teacher fit ERA.

        Returns:
            tuple: The widths of the paired maps (the student's and the
            teacher's, per level), and the TWI module (or
            None where the teacher's heads cannot score the student's
            features and ``twi_mode`` is ``'none'``).
        """
        twi = build_twi(self.teacher, twi_precision, twi_recompute)
        why = None
        if twi is None:
            why = (f'the teacher ({type(self.teacher).__name__}) has neither '
                   'a dense head nor an RPN + RoI head')
        elif isinstance(twi, TwoStageHeadReuse) and \
                detector_kind(self.student) != 'two_stage':
            why = ('a two-stage teacher\'s RoI head scores RoIs sampled from '
                   'the student\'s proposals, and the student '
                   f'({type(self.student).__name__}) has no RPN')
            twi = None
        if why and twi_mode != 'none':
            raise ValueError(
                f'ERADistiller: TWI cannot run here: {why}. Set '
                'twi_mode="none" to distil with MBRNet and the mimic loss.')
        head = None
        if isinstance(twi, TeacherHeadReuse):
            head = self.teacher.bbox_head
        elif twi is not None:
            head = self.teacher.rpn_head
        try:
            channels = self.pair_detectors(same_classes=twi is not None,
                                           teacher_head=head, per_level=True)
        except ValueError as err:
            if 'classes' in str(err):
                raise ValueError(
                    f'{err} (TWI scores the student\'s features with the '
                    'teacher\'s head.)') from err
            raise
        # ST blends the two heads' raw outputs, decoded by the student's
        self._heads_match = twi is not None and twi.decodes_like(self.student)
        # a cascade RoI head has no single box head's outputs to blend
        self._cascades = [f'the {role} ({type(det).__name__})'
                          for role, det in (('student', self.student),
                                            ('teacher', self.teacher))
                          if is_cascade(det)]
        return channels, twi

    def _test_cfg(self):
        # the student's post-processing settings for T-mode, where they are
        # of the teacher's kind (dense head: its test_cfg; two-stage: rcnn)
        if isinstance(self.twi, TeacherHeadReuse):
            return getattr(getattr(self.student, 'bbox_head', None),
                           'test_cfg', None)
        roi = getattr(self.student, 'roi_head', None)
        return getattr(roi, 'test_cfg', None)

    def sync_twi(self) -> None:
        """Copies the teacher's current head weights into TWI's frozen
        copies (done when the teacher is loaded)."""
        if isinstance(self.twi, TeacherHeadReuse):
            self.twi.load_from(self.teacher.bbox_head)
        elif self.twi is not None:
            self.twi.load_from(self.teacher)

    def set_inference_mode(self, mode: str, alpha: Optional[float] = None
                           ) -> None:
        """Selects ``'S'``, ``'T'`` or ``'ST'`` (with ``alpha``) for predict.

        Raises:
            ValueError: For an unknown mode, one the pair cannot run
                (:func:`~.era_inference.check_inference_mode`) or alpha
                outside [0, 1].
        """
        alpha = self.alpha if alpha is None else float(alpha)
        check_inference_mode(
            mode, alpha, has_twi=self.twi is not None,
            heads_match=self._heads_match, cascades=self._cascades,
            student_head=head_name(self.student),
            twi_head=getattr(self.twi, 'head_name', ''))
        self.inference_mode, self.alpha = mode, alpha

    def _teacher_ready(self) -> None:
        """Copies the loaded teacher's head into the TWI head, also when the
        teacher is loaded lazily (``loss`` before ``init_weights``)."""
        self.sync_twi()

    def init_weights(self) -> None:
        """Initialises student and MBRNet, loads the teacher (and with it the
        TWI head), and optionally the student head from the teacher head."""
        self.mbrnet.init_weights()
        super().init_weights()
        if self.init_student_head:
            if not (isinstance(self.twi, TeacherHeadReuse)
                    and hasattr(self.student, 'bbox_head')):
                raise ValueError(
                    'ERADistiller: init_student_head=True copies the '
                    'teacher\'s dense head into the student\'s; both must '
                    'have one. Set it to False.')
            load_strictly(
                self.student.bbox_head, self.teacher.bbox_head.state_dict(),
                what='ERADistiller: init_student_head=True copies the '
                'teacher\'s bbox_head, which does not fit the student\'s',
                name='bbox_head', prefix='bbox_head.', source='the teacher',
                target='the student',
                fix='Set init_student_head=False to keep the student head\'s '
                'own initialisation.')

    def loss(self, batch_inputs: Tensor,
             batch_data_samples: SampleList) -> dict:
        """The student's detection losses plus ``era.*`` losses."""
        student_feats = list(self.student.extract_feat(batch_inputs))
        # two-stage TWI samples its RoIs from the student's proposals
        needs_proposals = isinstance(self.twi, TwoStageHeadReuse)
        losses = detector_losses(self.student, student_feats,
                                 batch_data_samples,
                                 with_proposals=needs_proposals)
        proposals = None
        if needs_proposals:
            losses, proposals = losses

        teacher_feats = self.teacher_features(batch_inputs, batch_data_samples)
        paired = self.pairing.select_student(student_feats)
        self.check_feature_shapes(paired, teacher_feats)
        base, preds = self.mbrnet(paired)
        era = self.mbrnet.loss(base, preds, teacher_feats)
        era['loss_mimic'] = self.mimic_weight * era['loss_mimic']
        era['loss_residual'] = self.residual_weight * era['loss_residual']

        if self.twi_mode != 'none' and self.twi_weight > 0:
            if self._twi_this_step():
                self.twi.follow(getattr(self.student, 'bbox_head', None))
                if self.twi_detach_branches:  # branches: residual loss only
                    preds = [[p.detach() for p in pred] for pred in preds]
                approx, weights = self._twi_selection(
                    MBRNet.approximations(base, preds))
                era['loss_twi'] = (self.twi_weight / self.twi_probability *
                                   self.twi.loss(approx, weights,
                                                 batch_data_samples,
                                                 proposals))
            else:  # skipped (twi_probability): logged as 0, keys unchanged
                era['loss_twi'] = base[0].new_zeros(())
        return self.merge_losses(losses, era, prefix='era')

    def _twi_this_step(self) -> bool:
        # no random draw at probability 1: runs stay as they were
        return self.twi_probability >= 1 or bool(
            torch.rand(()) < self.twi_probability)

    def _twi_selection(self, approx: List[List[Tensor]]
                       ) -> Tuple[List[List[Tensor]], List[float]]:
        if self.twi_mode == 'all':
            return approx, self.twi_weights
        if self.twi_mode == 'last':
            return [approx[-1]], [sum(self.twi_weights)]
        k = int(torch.randint(len(approx), ()).item())
        return [approx[k]], [self.twi_weights[k] * len(approx)]

    def predict(self,
                batch_inputs: Tensor,
                batch_data_samples: SampleList,
                rescale: bool = True) -> SampleList:
        """Predicts in the current inference mode (see class docstring)."""
        if self.inference_mode == 'S':
            return self.student.predict(batch_inputs, batch_data_samples,
                                        rescale)
        student_feats = list(self.student.extract_feat(batch_inputs))
        base, preds = self.mbrnet(self.pairing.select_student(student_feats))
        m_last = MBRNet.approximations(base, preds)[-1]
        if self.inference_mode == 'T':
            # the teacher heads' decoding, the run's post-processing (the
            # student's test settings where its head is alike)
            results = self.twi.predict(m_last, batch_data_samples, rescale,
                                       cfg=self._test_cfg())
        else:
            results = self.twi.blend_predict(self.student, student_feats,
                                             m_last, self.alpha,
                                             batch_data_samples, rescale)
        return self.student.add_pred_to_datasample(batch_data_samples,
                                                   results)


def _one_or_all(widths: Sequence[int]):
    """The one width of every level, or the list of them."""
    return widths[0] if len(set(widths)) == 1 else list(widths)
