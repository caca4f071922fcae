"""Tiny real mmdet detectors of every supported family.

Each is mmdet's own COCO config of the family with the widths shrunk (ResNet-18
at ``width`` base channels or CSPNeXt at a small widen factor, a ``channels``
neck, one-conv heads; for Faster and Cascade R-CNN a ``channels``-wide RPN
and small RoI box heads, one per cascade stage), built offline with random
weights.
"""
import copy

import torch
from mmdet.structures import DetDataSample
from mmengine.config import ConfigDict
from mmengine.hub import get_config
from mmengine.structures import InstanceData

#: family -> mmdet's config (the student side of the COCO pairs)
FAMILIES = {
    'retinanet': 'retinanet/retinanet_r50_fpn_1x_coco.py',
    'fcos': 'fcos/fcos_r50-caffe_fpn_gn-head_1x_coco.py',
    'atss': 'atss/atss_r50_fpn_1x_coco.py',
    'gfl': 'gfl/gfl_r50_fpn_1x_coco.py',
    'rtmdet': 'rtmdet/rtmdet_tiny_8xb32-300e_coco.py',
    'faster_rcnn': 'faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py',
    'cascade_rcnn': 'cascade_rcnn/cascade-rcnn_r50_fpn_1x_coco.py',
    'detr': 'detr/detr_r50_8xb2-150e_coco.py',
}
NUM_CLASSES = 3
_CONFIGS = {}


def family_config(family: str) -> ConfigDict:
    """mmdet's full model config of ``family`` (cached, copied)."""
    if family not in _CONFIGS:
        _CONFIGS[family] = get_config('mmdet::' + FAMILIES[family]).model
    return copy.deepcopy(_CONFIGS[family])


def tiny_detector(family: str, width: int = 16,
                  channels: int = 32) -> ConfigDict:
    """The model dict of a tiny ``family`` detector.

    Args:
        family: A key of :data:`FAMILIES`.
        width: ResNet-18 base channels; for RTMDet the P3 width / 8.
        channels: The neck's (and head's) width.
    """
    model = family_config(family)
    if family == 'rtmdet':
        widen = width / 128  # CSPNeXt P3..P5 = 256/512/1024 * widen
        model.backbone.update(deepen_factor=0.167, widen_factor=widen,
                              init_cfg=None)
        model.neck.update(in_channels=[int(c * widen)
                                       for c in (256, 512, 1024)],
                          out_channels=channels, num_csp_blocks=1)
        model.bbox_head.update(in_channels=channels, feat_channels=channels,
                               stacked_convs=1, num_classes=NUM_CLASSES)
    else:
        model.backbone.update(depth=18, base_channels=width, init_cfg=None,
                              frozen_stages=-1, norm_eval=False)
        model.neck.update(in_channels=[width * k for k in (1, 2, 4, 8)],
                          out_channels=channels)
    if family == 'detr':
        return _tiny_detr(model, width, channels)
    if family in ('faster_rcnn', 'cascade_rcnn'):
        return _tiny_two_stage(model, channels)
    if family != 'rtmdet':
        model.bbox_head.update(in_channels=channels, feat_channels=channels,
                               stacked_convs=1, num_classes=NUM_CLASSES)
    # untrained heads score low: keep every detection, few of them
    model.test_cfg.update(score_thr=0.0, nms_pre=50, max_per_img=10)
    return model


def tiny_head(family: str, channels: int = 32) -> ConfigDict:
    """``family``'s head config alone, with its train/test settings."""
    model = tiny_detector(family, channels=channels)
    head = model.bbox_head
    head.update(train_cfg=model.get('train_cfg'), test_cfg=model.test_cfg)
    return head


def make_samples(num_images: int = 2, size: int = 128):
    """Data samples with two ground-truth boxes each (inside ``size``)."""
    samples = []
    for i in range(num_images):
        sample = DetDataSample(metainfo=dict(
            img_shape=(size, size), ori_shape=(size, size),
            pad_shape=(size, size), batch_input_shape=(size, size),
            scale_factor=(1.0, 1.0)))
        gt = InstanceData()
        gt.bboxes = torch.tensor([[8.0 + i, 12.0, 60.0, 70.0],
                                  [40.0, 30.0 + 2 * i, 120.0, 110.0]])
        gt.labels = torch.tensor([1, 2 - i])
        sample.gt_instances = gt
        samples.append(sample)
    return samples


def _tiny_two_stage(model: ConfigDict, channels: int) -> ConfigDict:
    """Faster / Cascade R-CNN: a ``channels``-wide RPN, small box heads (one
    per cascade stage), few proposals and sampled RoIs."""
    model.rpn_head.update(in_channels=channels, feat_channels=channels)
    model.roi_head.bbox_roi_extractor.out_channels = channels
    cascade = isinstance(model.roi_head.bbox_head, list)
    heads = model.roi_head.bbox_head if cascade else [model.roi_head.bbox_head]
    rcnn = model.train_cfg.rcnn if cascade else [model.train_cfg.rcnn]
    for head, stage_cfg in zip(heads, rcnn):
        head.update(in_channels=channels, fc_out_channels=64,
                    num_classes=NUM_CLASSES)
        stage_cfg.sampler.num = 64
    model.train_cfg.rpn_proposal.update(nms_pre=200, max_per_img=100)
    model.test_cfg.rpn.update(nms_pre=200, max_per_img=50)
    model.test_cfg.rcnn.update(score_thr=0.0, max_per_img=10)
    return model


def _tiny_detr(model: ConfigDict, width: int, channels: int) -> ConfigDict:
    """DETR with a ResNet-18 C5, one encoder and one decoder layer."""
    model.backbone.update(depth=18, base_channels=width, init_cfg=None,
                          frozen_stages=-1, norm_eval=False,
                          norm_cfg=dict(type='BN', requires_grad=True))
    model.neck.update(in_channels=[width * 8], out_channels=channels)
    for part in (model.encoder, model.decoder):
        part.num_layers = 1
        for key in ('self_attn_cfg', 'cross_attn_cfg'):
            if key in part.layer_cfg:
                part.layer_cfg[key].update(embed_dims=channels, num_heads=2)
        part.layer_cfg.ffn_cfg.update(embed_dims=channels,
                                      feedforward_channels=2 * channels)
    model.positional_encoding.num_feats = channels // 2
    model.bbox_head.update(embed_dims=channels, num_classes=NUM_CLASSES)
    model.num_queries = 10
    model.test_cfg = dict(max_per_img=10)
    return model
