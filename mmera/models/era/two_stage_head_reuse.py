"""TWI for two-stage teachers: their RPN and RoI box heads on ERA's features.

A two-stage teacher has no single dense head: TWI scores the approximations
``M_k`` with frozen copies of its RPN head (the RPN's own loss against the
class-agnostic ground truth, :class:`TeacherHeadReuse`) and of its RoI box
branch (RoI extractor + box head). The box loss uses ONE set of sampled RoIs
per step, drawn from the student's proposals with the teacher RoI head's own
assigner and sampler, shared by every approximation: the K+1 RoI-feature
batches run through the box head as one pass (the RoIs' batch index offset
by ``k * B``) and each gets the box head's own loss against the same targets.
Mask heads are not scored (TWI is the box branch).

Cascade R-CNN (a RoI head with one extractor and box head per stage):

* training: TWI scores the approximations with the FIRST stage only (its
  extractor, box head, assigner and sampler; :attr:`head_name` says so);
* T-mode: the teacher's own cascade decode, i.e. its RPN's proposals on
  ``M_K`` through ALL its box stages (boxes refined stage by stage, class
  scores averaged over the stages, the last stage's regression), with a
  frozen copy of its cascade's box branch (:attr:`cascade`; masks and other
  branches, e.g. HTC's semantic head, are not run);
* ST-mode: refused (:meth:`decodes_like` is False) when the student or the
  teacher is a cascade: a cascade's prediction is no single box head's raw
  outputs, so there is nothing to blend with the other head's and decode
  alike. The S-mode (the student alone) and T-mode work.
"""
import copy
import inspect
from typing import List, Optional, Sequence, Tuple

import torch
from mmdet.models.dense_heads.base_dense_head import BaseDenseHead
from mmdet.models.detectors import TwoStageDetector
from mmdet.models.utils import unpack_gt_instances
from mmdet.registry import TASK_UTILS
from mmdet.structures import SampleList
from mmdet.structures.bbox import bbox2roi
from mmdet.utils import InstanceList
from torch import Tensor, nn

from ..common.utils import (
    FrozenForward,
    freeze,
    freeze_norm_stats,
    same_settings,
)
from .teacher_head_reuse import TeacherHeadReuse, sum_losses

Levels = List[Tensor]


def is_cascade(detector_or_roi_head) -> bool:
    """Whether a detector's (or a RoI head's own) box branch is a cascade:
    one box head per stage, as in Cascade R-CNN."""
    roi = getattr(detector_or_roi_head, 'roi_head', detector_or_roi_head)
    return isinstance(getattr(roi, 'bbox_head', None),
                      (list, tuple, nn.ModuleList))


def _first_stage(value):
    # Cascade RoI heads hold one extractor / box head / train cfg per stage.
    if isinstance(value, (list, tuple, nn.ModuleList)):
        return value[0]
    return value


class TwoStageHeadReuse(nn.Module):
    """Frozen copies of a two-stage teacher's RPN head and RoI box branch.

    Args:
        teacher: The (loaded) two-stage teacher; its heads are deep-copied
            and frozen.
        precision: The RPN's and box head's training forward precision
            (see :class:`TeacherHeadReuse`).

    Raises:
        ValueError: For a teacher that is not an RPN + RoI-head detector.
    """

    def __init__(self, teacher: nn.Module, precision: str = 'fp32') -> None:
        super().__init__()
        if not isinstance(teacher, TwoStageDetector) or not (
                teacher.with_rpn and teacher.with_roi_head):
            raise ValueError(
                f'two-stage TWI needs an RPN + RoI-head teacher, got '
                f'{type(teacher).__name__}.')
        roi = teacher.roi_head
        box_head = _first_stage(roi.bbox_head)
        inputs = [p for p in inspect.signature(box_head.forward).parameters
                  .values() if p.default is inspect.Parameter.empty]
        if len(inputs) != 1:
            # e.g. Double-Head R-CNN: its RoI head extracts class and box
            # features apart and feeds the box head both
            raise ValueError(
                f'two-stage TWI feeds the teacher\'s RoI box head one set of '
                f'RoI features, but {type(box_head).__name__} takes '
                f'{len(inputs)} ({", ".join(p.name for p in inputs)}) from '
                f'its RoI head ({type(roi).__name__}). Set twi_mode="none" '
                '(MBRNet and mimic only) or use a feature method (FitNet, '
                'PKD).')
        if not getattr(box_head, 'with_reg', True):
            # e.g. Grid R-CNN: its grid head, not the box head, places boxes
            raise ValueError(
                f'two-stage TWI scores the approximations with the teacher\'s '
                f'RoI box classification and regression, but '
                f'{type(box_head).__name__} of {type(roi).__name__} has no '
                'box regression (with_reg=False). Set twi_mode="none" (MBRNet '
                'and mimic only) or use a feature method (FitNet, PKD).')
        self.rpn = TeacherHeadReuse(teacher.rpn_head, precision)
        self.frozen_forward = FrozenForward(precision, 'TwoStageHeadReuse')
        #: a cascade teacher's RoI head, box stages only (T-mode), or None;
        #: TWI's extractor and box head are its first stage (one copy)
        self.cascade = _cascade_box_copy(roi) if is_cascade(roi) else None
        if self.cascade is not None:
            self.roi_extractor = self.cascade.bbox_roi_extractor[0]
            self.bbox_head = self.cascade.bbox_head[0]
        else:
            self.roi_extractor = freeze(copy.deepcopy(
                roi.bbox_roi_extractor))
            self.bbox_head = freeze(copy.deepcopy(roi.bbox_head))
        self.shared_head = freeze(copy.deepcopy(roi.shared_head)) \
            if roi.with_shared_head else None
        self.rcnn_train_cfg = _first_stage(roi.train_cfg)
        self.rcnn_test_cfg = roi.test_cfg
        # the teacher RoI head's own assignment and sampling rules
        self.assigner = TASK_UTILS.build(self.rcnn_train_cfg['assigner'])
        self.sampler = TASK_UTILS.build(
            self.rcnn_train_cfg['sampler'], default_args=dict(context=roi))

    def train(self, mode: bool = True) -> 'TwoStageHeadReuse':
        # Training-mode forward, frozen (eval) normalisation statistics.
        super().train(mode)
        freeze_norm_stats(self)
        return self

    def follow(self, student_head: Optional[nn.Module]) -> None:
        """Nothing to take over: stock hooks flip no loss switch of the RPN
        and RoI heads (see :meth:`TeacherHeadReuse.follow`)."""

    def load_from(self, teacher: nn.Module) -> None:
        """Copies the teacher's current head weights into the frozen copies."""
        roi = teacher.roi_head
        self.rpn.load_from(teacher.rpn_head)
        if self.cascade is not None:  # every stage (the first is TWI's)
            self.cascade.bbox_roi_extractor.load_state_dict(
                roi.bbox_roi_extractor.state_dict())
            self.cascade.bbox_head.load_state_dict(roi.bbox_head.state_dict())
            return
        self.roi_extractor.load_state_dict(
            roi.bbox_roi_extractor.state_dict())
        self.bbox_head.load_state_dict(roi.bbox_head.state_dict())
        if self.shared_head is not None:
            self.shared_head.load_state_dict(roi.shared_head.state_dict())

    @property
    def precision(self) -> str:
        """The heads' training precision as stated (``'auto'`` kept)."""
        return self.frozen_forward.precision

    @property
    def head_name(self) -> str:
        """What scores the approximations, for messages."""
        name = (f'{type(self.rpn.head).__name__} + '
                f'{type(self.bbox_head).__name__}')
        if self.cascade is not None:
            name += (f' (the first of the {len(self.cascade.bbox_head)} '
                     'Cascade stages)')
        return name

    # -- training -------------------------------------------------------------
    def sample(self, proposals: InstanceList,
               batch_data_samples: SampleList) -> list:
        """ONE set of sampled RoIs of the batch, from the student's
        proposals, as the teacher's RoI head samples them.

        Args:
            proposals: The student RPN's proposals per image (``bboxes``);
                not modified.
            batch_data_samples: The batch's data samples.
        """
        gts, ignores, _ = unpack_gt_instances(batch_data_samples)
        results = []
        for i, proposal in enumerate(proposals):
            priors = proposal.clone()
            # mmdet's RoI heads sample "priors"; work on a copy
            priors.priors = priors.pop('bboxes').detach()
            assign = self.assigner.assign(priors, gts[i], ignores[i])
            results.append(self.sampler.sample(assign, priors, gts[i]))
        return results

    def box_outputs(self, approximations: Sequence[Levels],
                    rois: Tensor) -> Tuple[Tensor, Tensor]:
        """The box head on the same RoIs of every approximation, one pass.

        Returns:
            tuple: class scores and box deltas, approximation-major
            (``len(approximations) * len(rois)`` rows).
        """
        num_imgs = approximations[0][0].shape[0]
        levels = self.roi_extractor.num_inputs
        feats = [torch.cat([a[lvl] for a in approximations])
                 for lvl in range(levels)]
        offset = torch.cat([
            rois.new_tensor([k * num_imgs, 0, 0, 0, 0]).expand_as(rois)
            for k in range(len(approximations))])
        roi_feats = self.roi_extractor(
            feats, rois.repeat(len(approximations), 1) + offset)
        return self.frozen_forward(self._box_forward, roi_feats,
                                   self.training, roi_feats.device,
                                   type(self.bbox_head).__name__)

    def _box_forward(self, roi_feats: Tensor) -> Tuple[Tensor, Tensor]:
        if self.shared_head is not None:
            roi_feats = self.shared_head(roi_feats)
        return self.bbox_head(roi_feats)

    def loss(self, approximations: Sequence[Levels],
             weights: Sequence[float], batch_data_samples: SampleList,
             proposals: Optional[InstanceList] = None) -> Tensor:
        """``sum_k weights[k] * (RPN loss + RoI box loss)(M_k)``.

        Args:
            approximations: The K'+1 mimic features (the RPN's levels).
            weights: One weight per approximation.
            batch_data_samples: The batch's data samples (ground truth).
            proposals: The student's proposals per image (required).
        """
        if proposals is None:
            raise ValueError('two-stage TWI samples its RoIs from the '
                             'student\'s proposals; none were given.')
        return self.rpn_loss(approximations, weights, batch_data_samples) + \
            self.box_loss(approximations, weights,
                          self.sample(proposals, batch_data_samples))

    def rpn_loss(self, approximations: Sequence[Levels],
                 weights: Sequence[float],
                 batch_data_samples: SampleList) -> Tensor:
        """The RPN's own loss of every approximation against the
        class-agnostic ground truth (anchors assigned and sampled once)."""
        rpn_samples = copy.deepcopy(batch_data_samples)
        for sample in rpn_samples:  # the RPN is class-agnostic
            sample.gt_instances.labels = torch.zeros_like(
                sample.gt_instances.labels)
        return self.rpn.loss(approximations, weights, rpn_samples)

    def box_loss(self, approximations: Sequence[Levels],
                 weights: Sequence[float], sampling: list) -> Tensor:
        """The box head's own loss of every approximation on the same
        sampled RoIs (``sampling``: :meth:`sample`), one box-head pass."""
        rois = bbox2roi([res.priors for res in sampling])
        targets = self.bbox_head.get_targets(sampling, self.rcnn_train_cfg)
        cls_scores, bbox_preds = self.box_outputs(approximations, rois)
        total, n = 0., len(weights)
        for k, (cls_k, box_k) in enumerate(
                zip(cls_scores.chunk(n), bbox_preds.chunk(n))):
            losses = self.bbox_head.loss(cls_k, box_k, rois, *targets)
            total = total + weights[k] * sum_losses(losses)
        return total

    # -- inference ------------------------------------------------------------
    def predict(self, features: Levels, batch_data_samples: SampleList,
                rescale: bool = True,
                cfg: Optional[dict] = None) -> InstanceList:
        """T-mode: the teacher's RPN and RoI box heads on one feature set
        (``cfg``: the R-CNN test settings; None: the teacher's). A cascade
        teacher decodes as its own RoI head does: all stages."""
        proposals = self.rpn.head.predict(features, batch_data_samples,
                                          rescale=False)
        metas = [s.metainfo for s in batch_data_samples]
        cfg = cfg or self.rcnn_test_cfg
        if self.cascade is not None:
            return self.cascade.predict_bbox(tuple(features), metas,
                                             proposals, cfg, rescale)
        rois = bbox2roi([p.bboxes for p in proposals])
        cls, box = self.box_outputs([features], rois)
        return decode_boxes(self.bbox_head, rois, proposals, cls, box, metas,
                            cfg, rescale)

    def decodes_like(self, student: nn.Module) -> bool:
        """Whether the student's RoI box head decodes this box head's raw
        outputs alike: a single-stage RoI head without masks, the same box
        head class, classes, box coder and class-agnostic setting; never
        with a cascade on either side (see the module docstring)."""
        roi = getattr(student, 'roi_head', None)
        s_head = getattr(roi, 'bbox_head', None)
        if not isinstance(student, TwoStageDetector) or not isinstance(
                s_head, nn.Module) or is_cascade(roi) \
                or self.cascade is not None \
                or getattr(roi, 'with_mask', False):
            return False
        t_head = self.bbox_head
        if type(s_head) is not type(t_head):
            return False
        for attr in ('num_classes', 'reg_class_agnostic', 'reg_decoded_bbox',
                     'custom_cls_channels'):
            if getattr(s_head, attr, None) != getattr(t_head, attr, None):
                return False
        return same_settings(s_head, t_head, ('bbox_coder', ))

    def blend_predict(self, student: nn.Module, student_feats: Levels,
                      features: Levels, alpha: float,
                      batch_data_samples: SampleList,
                      rescale: bool = True) -> InstanceList:
        """ST-mode: on the student's proposals, ``(1 - alpha) * student RoI
        box head + alpha * this box head`` (class logits and box deltas),
        decoded by the student's box head (see :meth:`decodes_like`)."""
        proposals = student.rpn_head.predict(student_feats,
                                             batch_data_samples,
                                             rescale=False)
        rois = bbox2roi([p.bboxes for p in proposals])
        roi = student.roi_head
        roi_feats = roi.bbox_roi_extractor(
            student_feats[:roi.bbox_roi_extractor.num_inputs], rois)
        if roi.with_shared_head:
            roi_feats = roi.shared_head(roi_feats)
        cls_s, box_s = roi.bbox_head(roi_feats)
        cls_t, box_t = self.box_outputs([features], rois)
        return decode_boxes(
            roi.bbox_head, rois, proposals,
            (1 - alpha) * cls_s + alpha * cls_t,
            (1 - alpha) * box_s + alpha * box_t,
            [s.metainfo for s in batch_data_samples], roi.test_cfg, rescale)


def _cascade_box_copy(roi: nn.Module) -> nn.Module:
    """A frozen copy of a cascade RoI head's box branch (masks dropped)."""
    roi = copy.deepcopy(roi)
    for name in ('mask_head', 'mask_roi_extractor'):
        if hasattr(roi, name):
            delattr(roi, name)
    return freeze(roi)


def decode_boxes(bbox_head: nn.Module, rois: Tensor, proposals: InstanceList,
                 cls_scores: Tensor, bbox_preds: Tensor,
                 batch_img_metas: List[dict], rcnn_test_cfg,
                 rescale: bool) -> InstanceList:
    """Per-image detections from a box head's outputs on ``rois`` (as
    ``StandardRoIHead.predict_bbox`` splits and decodes them)."""
    counts = tuple(len(p) for p in proposals)
    return bbox_head.predict_by_feat(
        rois=rois.split(counts), cls_scores=cls_scores.split(counts),
        bbox_preds=bbox_preds.split(counts), batch_img_metas=batch_img_metas,
        rcnn_test_cfg=rcnn_test_cfg, rescale=rescale)


def build_twi(teacher: nn.Module, precision: str = 'fp32',
              recompute: bool = False):
    """The TWI module of ``teacher``: :class:`TeacherHeadReuse` for a dense
    head, :class:`TwoStageHeadReuse` for an RPN + RoI-head detector, None
    otherwise. Both share one interface: ``loss``, ``predict`` (T-mode),
    ``blend_predict`` (ST-mode), ``decodes_like``, ``head_name``;
    ``precision`` is the frozen heads' training forward precision,
    ``recompute`` (dense heads only) :class:`TeacherHeadReuse`'s."""
    if isinstance(getattr(teacher, 'bbox_head', None), BaseDenseHead):
        return TeacherHeadReuse(teacher.bbox_head, precision, recompute)
    if isinstance(teacher, TwoStageDetector) and teacher.with_rpn and \
            teacher.with_roi_head:
        if recompute:
            raise ValueError(
                'twi_recompute is implemented for dense-head teachers '
                '(RetinaNet, FCOS, ATSS, GFL, RTMDet, ...), not for the '
                f'RPN + RoI head of {type(teacher).__name__}: drop it, or '
                'use twi_mode="sampled" to score one approximation per step.')
        return TwoStageHeadReuse(teacher, precision)
    return None
