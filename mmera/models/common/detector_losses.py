"""A detector's own training losses from features already extracted.

A distiller runs the student's backbone and neck once and needs both the
features (for its distillation losses) and the student's own detection
losses on them. mmdet's ``loss(batch_inputs, ...)`` extracts the features
itself, so calling it would run the backbone twice. :func:`detector_losses`
is the rest of mmdet's ``loss`` after ``extract_feat``:

* single-stage detectors (RetinaNet, FCOS, ATSS, GFL, RTMDet, ...):
  ``bbox_head.loss(feats, samples)``, as ``SingleStageDetector.loss``;
* two-stage detectors (Faster / Mask / Cascade R-CNN, ...): the RPN's loss
  and proposals on ground truth of one class, then the RoI head's loss, as
  ``TwoStageDetector.loss`` (mmdet 3.0-3.3, guarded);
* query-based detectors (DETR family): the transformer, then the head's
  loss, as ``DetectionTransformer.loss`` (guarded likewise);
* single-stage instance segmentors (YOLACT, CondInst, BoxInst, SOLO,
  SOLOv2): the box head's loss where there is one, then the mask head's on
  its positives, as ``SingleStageInstanceSegmentor.loss`` (guarded
  likewise).
"""
import copy
from typing import Dict, Sequence, Tuple

import torch
from mmdet.models.detectors import (
    DetectionTransformer,
    TwoStageDetector,
)
from mmdet.models.detectors.single_stage_instance_seg import (
    SingleStageInstanceSegmentor,
)
from mmdet.structures import SampleList
from mmdet.utils import InstanceList
from torch import Tensor, nn

from mmera.utils.upstream import check_tested_version


def detector_kind(detector: nn.Module) -> str:
    """``'single_stage'`` (a dense ``bbox_head`` and nothing else),
    ``'two_stage'``, ``'query'`` (DETR family), ``'instance_seg'`` (a
    single-stage instance segmentor: a mask head, with or without a box
    head) or ``'other'``."""
    if isinstance(detector, TwoStageDetector):
        return 'two_stage'
    if isinstance(detector, DetectionTransformer):
        return 'query'
    if isinstance(detector, SingleStageInstanceSegmentor):
        return 'instance_seg'
    # a SingleStageDetector without a bbox_head (MaskFormer's panoptic
    # head) is not one whose losses this module knows
    if getattr(detector, 'bbox_head', None) is not None:
        return 'single_stage'
    return 'other'


def detector_losses(detector: nn.Module, feats: Sequence[Tensor],
                    batch_data_samples: SampleList,
                    with_proposals: bool = False):
    """``detector.loss`` on features its ``extract_feat`` already gave.

    Args:
        detector: A single- or two-stage mmdet detector.
        feats: Its ``extract_feat`` output for the batch.
        batch_data_samples: The batch's data samples.
        with_proposals: Also return a two-stage detector's RPN proposals
            (its own copies: the RoI head renames the fields of the ones it
            samples from).

    Returns:
        dict or tuple: The same losses as ``detector.loss(batch_inputs,
        samples)``; with ``with_proposals`` also the proposals per image.

    Raises:
        ValueError: For another kind of detector (DETR-like query heads).
    """
    kind = detector_kind(detector)
    if kind == 'single_stage' and not with_proposals:
        return detector.bbox_head.loss(feats, batch_data_samples)
    if kind == 'two_stage':
        losses, proposals = _two_stage_losses(detector, tuple(feats),
                                              batch_data_samples)
        return (losses, proposals) if with_proposals else losses
    if kind == 'query' and not with_proposals:
        # DetectionTransformer.loss (mmdet 3.3) after its extract_feat
        check_tested_version('mmdet',
                             'detector_losses (DetectionTransformer.loss)')
        head_inputs = detector.forward_transformer(tuple(feats),
                                                   batch_data_samples)
        return detector.bbox_head.loss(
            **head_inputs, batch_data_samples=batch_data_samples)
    if kind == 'instance_seg' and not with_proposals:
        return _instance_seg_losses(detector, tuple(feats),
                                    batch_data_samples)
    if kind in ('single_stage', 'query', 'instance_seg'):
        raise ValueError(f'{type(detector).__name__} has no RPN: it makes '
                         'no proposals.')
    raise ValueError(
        f'{type(detector).__name__} is neither a single-stage detector '
        '(a dense bbox_head), a two-stage one (RPN + RoI head), a '
        'DETR-family one nor a single-stage instance segmentor; mmera\'s '
        'distillers train those kinds.')


def _instance_seg_losses(detector: SingleStageInstanceSegmentor, x: tuple,
                         batch_data_samples: SampleList
                         ) -> Dict[str, Tensor]:
    # SingleStageInstanceSegmentor.loss (mmdet 3.3) after its extract_feat.
    check_tested_version('mmdet',
                         'detector_losses (SingleStageInstanceSegmentor.loss)')
    losses: Dict[str, Tensor] = {}
    positive_infos = None
    if detector.with_bbox:  # YOLACT, CondInst, BoxInst
        losses.update(detector.bbox_head.loss(x, batch_data_samples))
        # the positives the mask head is trained on
        positive_infos = detector.bbox_head.get_positive_infos()
    mask_losses = detector.mask_head.loss(x, batch_data_samples,
                                          positive_infos=positive_infos)
    if set(mask_losses) & set(losses):
        raise ValueError(f'{type(detector).__name__}: its mask head\'s '
                         f'losses {sorted(mask_losses)} reuse names of its '
                         f'box head\'s {sorted(losses)}.')
    losses.update(mask_losses)
    return losses


def _two_stage_losses(detector: TwoStageDetector, x: tuple,
                      batch_data_samples: SampleList
                      ) -> Tuple[Dict[str, Tensor], InstanceList]:
    # TwoStageDetector.loss (mmdet 3.3) after its extract_feat.
    check_tested_version('mmdet', 'detector_losses (TwoStageDetector.loss)')
    losses = dict()
    if detector.with_rpn:
        proposal_cfg = detector.train_cfg.get('rpn_proposal',
                                              detector.test_cfg.rpn)
        rpn_data_samples = copy.deepcopy(batch_data_samples)
        # the RPN is class-agnostic: every ground truth is class 0
        for data_sample in rpn_data_samples:
            data_sample.gt_instances.labels = torch.zeros_like(
                data_sample.gt_instances.labels)
        rpn_losses, rpn_results_list = detector.rpn_head.loss_and_predict(
            x, rpn_data_samples, proposal_cfg=proposal_cfg)
        for key in list(rpn_losses):
            if 'loss' in key and 'rpn' not in key:
                rpn_losses[f'rpn_{key}'] = rpn_losses.pop(key)
        losses.update(rpn_losses)
    else:
        rpn_results_list = [s.proposals for s in batch_data_samples]
    proposals = [r.clone() for r in rpn_results_list]
    losses.update(detector.roi_head.loss(x, rpn_results_list,
                                         batch_data_samples))
    return losses, proposals
