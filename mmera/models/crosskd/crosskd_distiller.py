"""CrossKD: cross-head knowledge distillation (Wang et al., CVPR 2024)."""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmdet.models.utils import unpack_gt_instances
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from mmdet.structures.bbox import bbox_overlaps
from mmdet.utils import reduce_mean
from torch import Tensor

from ..common.base_distiller import BaseDistiller, ConfigLike
from ..common.utils import check_weight
from .cross_head import (
    check_cross_pair,
    decode_boxes,
    flatten_levels,
    head_spec,
    prior_targets,
    tail,
    tower,
)

Levels = List[Tensor]
HeadOutputs = Tuple[Levels, Levels]


@MODELS.register_module()
class CrossKDDistiller(BaseDistiller):
    """Distils a dense detector with CrossKD (arXiv 2306.11369).

    Prediction mimicking makes the student's head answer to two targets at
    once, the ground truth and the teacher's predictions, which often
    disagree. CrossKD moves the mimicking off the student's head: the
    student head's features after its i-th tower layer go through the
    frozen teacher head's layers i.. (the rest of its class and box towers,
    its final convs and, for GFL, its per-level scales), and these
    *cross-head predictions* mimic the teacher's own. The student's head
    keeps its own detection loss alone; the KD gradients pass through the
    frozen teacher layers into the student head's layers before i, its neck
    and its backbone (the teacher gets none).

    Supported: RetinaHead -> RetinaHead and GFLHead -> GFLHead, with equal
    head widths, classes and priors (:func:`check_cross_pair` refuses the
    rest with a ValueError that names the head and the problem).

    KD losses (``crosskd.*``), on the student's own assignment:

    * ``loss_cls``: quality-focal KD on the class scores,
      ``BCE(p, sigmoid(t)) * |sigmoid(p) - sigmoid(t)| ** cls_beta`` summed
      over the priors the assignment does not ignore, divided by its number
      of positives (the student's own class-loss normaliser);
    * ``loss_bbox``: ``1 - GIoU`` between the boxes the cross-head and the
      teacher predict (anchor deltas decoded by the coder; GFL: integrated
      side distributions), weighted per prior by the teacher's top class
      score ``w`` and divided by ``sum(w)`` (the paper's
      ``1/|S| sum_r S(r) D(r)``);
    * ``loss_ld`` (GFL only): LD's KL divergence between the teacher's and
      the cross-head's side distributions at temperature ``ld_temperature``
      (summed over bins, averaged over the 4 sides), same weights ``w``.

    Each is 0, its minimum, where the cross-head predictions equal the
    teacher's. Inference is the plain student (S-mode): checkpoints hold
    only ``student.*`` and the exported student is a stock mmdet model.

    Args:
        student: The student detector (RetinaNet or GFL).
        teacher_config: The teacher's config (path, ``mmdet::`` path or dict).
        teacher_ckpt: The teacher's weights (local path or URL).
        cross_index: i, the number of student tower layers before the
            teacher's; None: ``stacked_convs - 1`` (the paper's i = 3 for
            mmdet's 4-conv heads).
        cls_weight: Weight of ``loss_cls``.
        cls_beta: The focal exponent of ``loss_cls`` (reference: 1).
        bbox_weight: Weight of ``loss_bbox``.
        ld_weight: Weight of ``loss_ld`` (GFL; reference: 4 at T = 1, with
            KL averaged over the sides).
        ld_temperature: LD's softmax temperature (> 0).
        data_preprocessor: Defaults to the student's.
        init_cfg: Passed to :class:`BaseDistiller`.
    """

    needs_teacher = True

    def __init__(self,
                 student: ConfigLike,
                 teacher_config: Optional[ConfigLike] = None,
                 teacher_ckpt: Optional[str] = None,
                 cross_index: Optional[int] = None,
                 cls_weight: float = 1.0,
                 cls_beta: float = 1.0,
                 bbox_weight: float = 1.0,
                 ld_weight: float = 4.0,
                 ld_temperature: float = 1.0,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(student, teacher_config, teacher_ckpt,
                         data_preprocessor, init_cfg)
        name = type(self).__name__
        for key, value in (('cls_weight', cls_weight), ('cls_beta', cls_beta),
                           ('bbox_weight', bbox_weight),
                           ('ld_weight', ld_weight)):
            check_weight(key, value, name)
        if not ld_temperature > 0:
            raise ValueError(f'{name}: ld_temperature must be > 0, got '
                             f'{ld_temperature}.')
        # Heads first: their message names the head and the pairs that work.
        _, _, self.cross_index = check_cross_pair(self.student, self.teacher,
                                                  cross_index, name)
        self.pair_detectors(same_classes=True, student_dense_head=True,
                            teacher_head=self.teacher.bbox_head)
        self.cls_weight, self.cls_beta = float(cls_weight), float(cls_beta)
        self.bbox_weight, self.ld_weight = float(bbox_weight), float(ld_weight)
        self.ld_temperature = float(ld_temperature)

    def loss(self, batch_inputs: Tensor,
             batch_data_samples: SampleList) -> Dict[str, Tensor]:
        """The student's detection losses plus ``crosskd.*``.

        1. student features ``S`` (backbone, neck); on each level the
           student head's towers split at layer i: the features ``H_i``
           after its first i layers, then its own layers i.. on ``H_i``;
           its outputs get its own ``loss_by_feat`` (its detection loss,
           unchanged; the towers run once);
        2. frozen teacher features ``T`` (no grad, the teacher's own input
           normalisation) and the teacher head's predictions on them: the
           distillation targets;
        3. cross-head predictions: the teacher head's layers i.. on ``H_i``
           (frozen weights, but not under ``no_grad``, so gradients reach
           the student's layers before i, its neck and backbone);
        4. the KD losses between cross-head and teacher predictions on the
           student's assignment (:meth:`kd_losses`).
        """
        feats = list(self.student.extract_feat(batch_inputs))
        held, student_outs = self.split_student_head(feats)
        gts, ignores, metas = unpack_gt_instances(batch_data_samples)
        losses = self.student.bbox_head.loss_by_feat(*student_outs, gts,
                                                     metas, ignores)

        teacher_feats = self.teacher_features(batch_inputs, batch_data_samples)
        self.check_feature_shapes(feats, teacher_feats)
        with torch.no_grad():
            teacher_outs = self.teacher.bbox_head(teacher_feats)
        cross_outs = self.cross_head(held)
        kd = self.kd_losses(cross_outs, teacher_outs, batch_data_samples)
        return self.merge_losses(losses, kd, prefix='crosskd')

    def split_student_head(self, feats: Sequence[Tensor]
                           ) -> Tuple[List[Tuple[Tensor, Tensor]],
                                      HeadOutputs]:
        """The student head on ``feats``, cut after tower layer i.

        Returns:
            tuple: Per level the (class, box) tower features after layer i,
            and the head's outputs (class scores, box predictions per
            level), equal to its ``forward``.
        """
        head, index = self.student.bbox_head, self.cross_index
        held = [tower(head, x, index) for x in feats]
        outs = [tail(head, cls, reg, level, index)
                for level, (cls, reg) in enumerate(held)]
        return held, tuple(list(o) for o in zip(*outs))

    def cross_head(self, held: Sequence[Tuple[Tensor, Tensor]]
                   ) -> HeadOutputs:
        """The teacher head's layers i.. on the student's tower features:
        the cross-head class scores and box predictions per level."""
        head, index = self.teacher.bbox_head, self.cross_index
        outs = [tail(head, cls, reg, level, index)
                for level, (cls, reg) in enumerate(held)]
        return tuple(list(o) for o in zip(*outs))

    def kd_losses(self, cross_outs: HeadOutputs, teacher_outs: HeadOutputs,
                  batch_data_samples: SampleList) -> Dict[str, Tensor]:
        """``loss_cls``, ``loss_bbox`` (and GFL's ``loss_ld``) of the
        cross-head predictions against the teacher's (see the class
        docstring), unprefixed."""
        head = self.teacher.bbox_head
        sizes = [x.shape[-2:] for x in cross_outs[0]]
        targets = prior_targets(self.student.bbox_head, sizes,
                                batch_data_samples, cross_outs[0][0].device)
        width = head.cls_out_channels
        cross_cls = flatten_levels(cross_outs[0], width)
        teacher_cls = flatten_levels(teacher_outs[0], width)
        kept = targets.label_weights
        cls_terms = kd_quality_focal(cross_cls, teacher_cls, self.cls_beta)
        losses = dict(loss_cls=self.cls_weight * (
            kept[..., None] * cls_terms).sum() / targets.avg_factor)

        # region weights: the teacher's top class score, where kept
        weights = (teacher_cls.sigmoid().max(dim=-1).values *
                   (kept > 0)).reshape(-1)
        norm = reduce_mean(weights.sum()).clamp(min=1e-6)
        box_width = cross_outs[1][0].size(1) // head.num_base_priors
        cross_box = flatten_levels(cross_outs[1], box_width)
        teacher_box = flatten_levels(teacher_outs[1], box_width)
        giou = bbox_overlaps(decode_boxes(head, cross_box, targets),
                             decode_boxes(head, teacher_box, targets),
                             mode='giou', is_aligned=True)
        losses['loss_bbox'] = self.bbox_weight * (
            weights * (1 - giou)).sum() / norm
        if head_spec(head).distribution:
            kl = side_kl(cross_box.reshape(-1, head.reg_max + 1),
                         teacher_box.reshape(-1, head.reg_max + 1),
                         self.ld_temperature)
            losses['loss_ld'] = self.ld_weight * (
                weights * kl.reshape(-1, 4).mean(dim=1)).sum() / norm
        return losses


def kd_quality_focal(pred: Tensor, target: Tensor, beta: float) -> Tensor:
    """Element-wise quality-focal KD: BCE of the logits ``pred`` against the
    teacher's sigmoid scores, scaled by ``|sigmoid(pred) - soft| ** beta``
    (0 where the two agree, as QFL does with its IoU targets)."""
    soft = target.detach().sigmoid()
    bce = F.binary_cross_entropy_with_logits(pred, soft, reduction='none')
    return bce * (pred.sigmoid() - soft).abs().pow(beta)


def side_kl(pred: Tensor, target: Tensor, temperature: float) -> Tensor:
    """LD's ``T^2 * KL(softmax(target / T) || softmax(pred / T))`` per row
    (one box side's ``reg_max + 1`` bins), summed over the bins."""
    log_p = F.log_softmax(pred / temperature, dim=-1)
    log_t = F.log_softmax(target.detach() / temperature, dim=-1)
    return (log_t.exp() * (log_t - log_p)).sum(dim=-1) * temperature**2
