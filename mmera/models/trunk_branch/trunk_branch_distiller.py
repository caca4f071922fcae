"""Trunk-to-Branch: online, teacher-free distillation from peer branches."""
from typing import List, Optional

import torch
import torch.nn.functional as F
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from torch import Tensor

from ..common.anchor_loss import (
    assign_once_head_names,
    assign_targets,
    stacked_anchor_loss,
    supports_assign_once,
)
from ..common.base_distiller import BaseDistiller, ConfigLike
from ..common.utils import check_weight
from .peer_branches import PeerBranches

Levels = List[Tensor]
BRANCH_OPTIONS = ('num_branches', 'layer', 'init_scale', 'detach_input')


@MODELS.register_module()
class TrunkBranchDistiller(BaseDistiller):
    """Trains a single-stage detector (the trunk) with K peer branches.

    Training step, top to bottom (:meth:`loss`):

    1. the trunk's FPN features ``F`` (per level);
    2. :class:`PeerBranches`: ``F_b = F + layer_b(F)``, b = 1..K;
    3. ONE pass of the trunk's own head over the batch ``[F, F_1..F_K]``
       ((K+1)*B images), and ONE anchor assignment per image, reused for
       the trunk and every branch;
    4. losses: the trunk's detection loss (exactly the stock detector's,
       unprefixed); ``tb.loss_branch_cls/bbox``: the detection loss of the
       branches, averaged over them (weight ``branch_det_weight``), so the
       peers are competent; ``tb.loss_ens_cls/bbox``: the trunk learns from
       the peers' ensemble (mean of their class logits and box deltas,
       detached); ``tb.loss_decor``: :class:`DecorrelationLoss` on the
       branch residuals ``layer_b(F)`` keeps the peers diverse.

    Ensemble class loss, per anchor a and class c, with ``z`` the trunk's
    logit, ``e`` the mean of the peers' logits, ``p = sigmoid(z / T)``,
    ``q = sigmoid(e / T)``::

        loss_ens_cls = ens_cls_weight * T^2 * sum_{a,c} w_a KL(q || p) / N

    with ``KL(q||p) = q log(q/p) + (1-q) log((1-q)/(1-p))`` (the binary
    cross-entropy minus the target's entropy: same gradient ``T (p - q)``
    per logit, but 0 when trunk and ensemble agree), ``w_a`` the anchor's
    label weight (0 for invalid/ignored anchors) and ``N`` the number of
    positive anchors of the assignment, clamped at 1: the normaliser of the
    trunk's focal loss, so both losses are on the same per-object scale.
    Logits (not probabilities) are averaged: the temperature then acts on
    the ensemble directly, and box deltas are averaged in the same
    pre-activation space (as ERA's ST blend does).

    Ensemble box loss: L1 between the trunk's and the ensemble's deltas on
    anchors the ensemble is confident about (``s_a = max_c sigmoid(e)`` >=
    ``ens_bbox_thr``), weighted by ``s_a``, divided by ``max(sum s_a, 1)``.
    Ground-truth positives already supervise the trunk's boxes; this adds
    the peers' consensus on confident anchors the assignment leaves out.

    Inference is the trunk alone (:meth:`BaseDistiller.predict`): the
    branches never run, and the checkpoint's ``student.*`` weights are the
    complete stock detector (``ExportStudentHook``,
    ``tools/export_student.py``).

    Args:
        student: The trunk: a single-stage detector with an FPN neck and an
            anchor head whose loss is exactly mmdet's AnchorHead loss
            (:func:`~mmera.models.common.anchor_loss.supports_assign_once`)
            with sigmoid classification (e.g. RetinaNet). Heads with BatchNorm
            would mix trunk and branch statistics in the batched pass; use
            GN or none.
        branches: :class:`PeerBranches` options (``num_branches``,
            ``layer``, ``init_scale``, ``detach_input``).
        branch_det_weight: Weight of the branches' mean detection loss.
        ens_cls_weight: Weight of ``loss_ens_cls``.
        ens_bbox_weight: Weight of ``loss_ens_bbox`` (0 disables it).
        ens_bbox_thr: Ensemble confidence from which a box counts.
        temperature: T > 0 of the ensemble class loss.
        ens_cls_gamma: Quality-focal modulation ``|q - p|^gamma`` of the
            ensemble class loss (0: plain KL; the shipped configs use 2).
        loss_decor: The decorrelation loss config.
        teacher_config: Must stay ``None`` (the method is teacher-free).
        teacher_ckpt: Must stay ``None``.
        data_preprocessor: Defaults to the student's.
        init_cfg: Passed to :class:`BaseDistiller`.
    """

    needs_teacher = False
    teacher_free_reason = 'the trunk learns from its own peer branches'

    def __init__(self,
                 student: ConfigLike,
                 branches: Optional[dict] = None,
                 branch_det_weight: float = 1.0,
                 ens_cls_weight: float = 1.0,
                 ens_bbox_weight: float = 1.0,
                 ens_bbox_thr: float = 0.5,
                 temperature: float = 1.0,
                 ens_cls_gamma: float = 0.0,
                 loss_decor: dict = dict(
                     type='DecorrelationLoss', loss_weight=1.0),
                 teacher_config: Optional[ConfigLike] = None,
                 teacher_ckpt: Optional[str] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(student, teacher_config, teacher_ckpt,
                         data_preprocessor, init_cfg)
        for name, w in (('branch_det_weight', branch_det_weight),
                        ('ens_cls_weight', ens_cls_weight),
                        ('ens_bbox_weight', ens_bbox_weight),
                        ('ens_cls_gamma', ens_cls_gamma)):
            check_weight(name, w, 'TrunkBranchDistiller')
        if not temperature > 0:
            raise ValueError(f'TrunkBranchDistiller: temperature must be > 0, '
                             f'got {temperature}.')
        if not 0.0 <= ens_bbox_thr <= 1.0:
            raise ValueError(f'TrunkBranchDistiller: ens_bbox_thr must be in '
                             f'[0, 1], got {ens_bbox_thr}.')
        channels = self._check_trunk()
        options = dict(branches or {})
        unknown = sorted(set(options) - set(BRANCH_OPTIONS))
        if unknown:
            raise ValueError(
                f'TrunkBranchDistiller: unknown branches option(s) {unknown}; '
                f'known options: {list(BRANCH_OPTIONS)}.')
        self.branches = PeerBranches(channels, **options)
        self.loss_decor = MODELS.build(loss_decor)
        self.branch_det_weight = float(branch_det_weight)
        self.ens_cls_weight = float(ens_cls_weight)
        self.ens_bbox_weight = float(ens_bbox_weight)
        self.ens_bbox_thr = float(ens_bbox_thr)
        self.temperature = float(temperature)
        self.ens_cls_gamma = float(ens_cls_gamma)

    def _check_trunk(self) -> int:
        """Checks the student fits the method; returns its FPN channels."""
        if not hasattr(self.student, 'bbox_head'):
            self.pair_detectors(student_dense_head=True)  # names what lacks
        head = self.student.bbox_head
        if not supports_assign_once(head):
            raise ValueError(
                f'TrunkBranchDistiller: the student head {type(head).__name__}'
                ' is not supported: the trunk and branch losses reuse one '
                'anchor assignment through mmdet\'s AnchorHead loss, so the '
                'head must compute its loss exactly as AnchorHead does '
                '(its loss_by_feat, get_targets, _get_targets_single and '
                'loss_by_feat_single unchanged). Heads that work: '
                f'{", ".join(assign_once_head_names())}; use e.g. '
                'bbox_head=dict(type="RetinaHead", ...).')
        if not getattr(head, 'use_sigmoid_cls', False):
            raise ValueError(
                'TrunkBranchDistiller: the ensemble class loss compares '
                'sigmoid scores; the student head must use a sigmoid '
                'classifier (loss_cls with use_sigmoid=True).')
        return self.pair_detectors()[0]

    def init_weights(self) -> None:
        """Initialises the student (trunk) and the peer branches."""
        self.branches.init_weights()
        super().init_weights()

    def loss(self, batch_inputs: Tensor,
             batch_data_samples: SampleList) -> dict:
        """The trunk's detection losses plus ``tb.*`` losses."""
        head = self.student.bbox_head
        feats = list(self.student.extract_feat(batch_inputs))
        branch_feats, residuals = self.branches(feats)
        b, k = feats[0].size(0), self.branches.num_branches
        # One head pass: rows :B are the trunk, rows B: the K branches.
        cls_scores, bbox_preds = head(
            [torch.cat([f, bf]) for f, bf in zip(feats, branch_feats)])
        trunk_cls = [c[:b] for c in cls_scores]
        trunk_box = [x[:b] for x in bbox_preds]
        ens_cls = PeerBranches.ensemble([c[b:] for c in cls_scores], k)
        ens_box = PeerBranches.ensemble([x[b:] for x in bbox_preds], k)

        # One assignment for the B images, reused by trunk and branches.
        targets = assign_targets(head, [c.shape[-2:] for c in trunk_cls],
                                 batch_data_samples, feats[0].device)
        # The trunk's losses exactly as the stock head returns them.
        trunk_loss_cls, trunk_loss_bbox = stacked_anchor_loss(
            head, trunk_cls, trunk_box, targets)
        # K copies of the targets: the mean of the K branches' losses.
        branch_cls, branch_box = stacked_anchor_loss(
            head, [c[b:] for c in cls_scores], [x[b:] for x in bbox_preds],
            targets, average=True)
        losses = dict(loss_cls=trunk_loss_cls, loss_bbox=trunk_loss_bbox)
        label_weights, avg_factor = targets.label_weights, targets.avg_factor
        num_classes = head.cls_out_channels
        tb = dict(
            loss_branch_cls=self.branch_det_weight * sum(branch_cls),
            loss_branch_bbox=self.branch_det_weight * sum(branch_box),
            loss_ens_cls=self.ens_cls_weight * ensemble_cls_loss(
                trunk_cls, ens_cls, self.temperature, avg_factor,
                num_classes, label_weights, self.ens_cls_gamma),
            loss_ens_bbox=self.ens_bbox_weight * ensemble_bbox_loss(
                trunk_box, ens_box, ens_cls, self.ens_bbox_thr, num_classes,
                head.bbox_coder.encode_size),
            loss_decor=self.loss_decor(residuals))
        return self.merge_losses(losses, tb, prefix='tb')


def _per_anchor(x: Tensor, width: int) -> Tensor:
    """(B, A*width, H, W) -> (B, H*W*A, width), mmdet's anchor order."""
    return x.permute(0, 2, 3, 1).reshape(x.size(0), -1, width)


def ensemble_cls_loss(trunk_logits: Levels,
                      ens_logits: Levels,
                      temperature: float,
                      avg_factor: float,
                      num_classes: int,
                      label_weights: Optional[Levels] = None,
                      gamma: float = 0.0) -> Tensor:
    """``T^2 * sum w_a |q - p|^gamma KL(q || p) / max(avg_factor, 1)`` with
    ``q = sigmoid(e/T)``, ``p = sigmoid(z/T)``, summed over levels, anchors
    and classes (see TrunkBranchDistiller).

    ``gamma > 0`` is Quality Focal Loss's modulation (Li et al., GFL): the
    (detached) factor ``|q - p|^gamma`` keeps the tens of thousands of
    anchors where trunk and ensemble nearly agree from swamping the sum.
    Without it, moderate disagreement spread over all background anchors
    made the loss spike (gradient norms ~100 on the mini set, so clipping
    froze the trunk's training).

    Args:
        trunk_logits: Per level, the trunk's class logits (B, A*C, H, W).
        ens_logits: Per level, the ensemble's logits (targets; detached).
        temperature: T.
        avg_factor: The normaliser (number of positive anchors).
        num_classes: C, the class channels per anchor.
        label_weights: Per level, (B, H*W*A) anchor weights, or None.
        gamma: The modulation exponent (0: plain KL).

    Returns:
        Tensor: The loss (unweighted), a scalar.
    """
    t = temperature
    total = trunk_logits[0].new_zeros(())
    for lvl, (z, e) in enumerate(zip(trunk_logits, ens_logits)):
        z, e = z / t, e.detach() / t
        q = torch.sigmoid(e)
        # binary KL(q || p) from log-sigmoids: stable, 0 when z == e
        kl = (q * (F.logsigmoid(e) - F.logsigmoid(z)) + (1 - q) *
              (F.logsigmoid(-e) - F.logsigmoid(-z)))
        if gamma > 0:
            kl = kl * (q - torch.sigmoid(z)).abs().detach().pow(gamma)
        if label_weights is not None:
            weights = label_weights[lvl].reshape(kl.size(0), -1, 1)
            kl = _per_anchor(kl, num_classes) * weights
        total = total + kl.sum()
    return total * t**2 / max(float(avg_factor), 1.0)


def ensemble_bbox_loss(trunk_deltas: Levels,
                       ens_deltas: Levels,
                       ens_logits: Levels,
                       thr: float,
                       num_classes: int,
                       box_dim: int = 4) -> Tensor:
    """L1 between trunk and ensemble deltas on confident anchors.

    Anchor a counts with weight ``s_a = max_c sigmoid(e_a)`` when
    ``s_a >= thr``; the loss is ``sum_a s_a |z_a - d_a|_1 / max(sum s_a, 1)``.

    Args:
        trunk_deltas: Per level, the trunk's box deltas (B, A*box_dim, H, W).
        ens_deltas: Per level, the ensemble's deltas (targets; detached).
        ens_logits: Per level, the ensemble's class logits (B, A*C, H, W).
        thr: The confidence threshold.
        num_classes: C, the class channels per anchor.
        box_dim: Delta values per anchor.

    Returns:
        Tensor: The loss (unweighted), a scalar.
    """
    num = trunk_deltas[0].new_zeros(())
    den = trunk_deltas[0].new_zeros(())
    for z, d, e in zip(trunk_deltas, ens_deltas, ens_logits):
        conf = _per_anchor(torch.sigmoid(e.detach()), num_classes).amax(-1)
        weights = conf * (conf >= thr)
        err = _per_anchor((z - d.detach()).abs(), box_dim).sum(-1)
        num = num + (weights * err).sum()
        den = den + weights.sum()
    return num / den.clamp(min=1.0)
