"""Models built offline: what mmdet allocates empty for a stripped
``Pretrained`` checkpoint to fill gets a real init, in the model and in the
teacher a method keeps outside its module tree."""
import math

import torch
from mmdet.models.backbones.trident_resnet import TridentConv
from mmdet.models.necks.ssd_neck import L2Norm
from mmdet.registry import MODELS
from mmengine.registry import init_default_scope

import mmera  # noqa: F401
from mmera.analysis.offline import (
    init_checkpoint_only_weights,
    offline_model,
    teacher_of,
)
from mmera.analysis.pair_probe import build_method

TRIDENT = 'mmdet::tridentnet/tridentnet_r50-caffe_1x_coco.py'
FASTER = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'
SSD = 'mmdet::ssd/ssd300_coco.py'


def _assert_kaiming(convs):
    """Each weight has the std of Kaiming's normal init (fan_out, relu)."""
    assert convs
    for conv in convs:
        w = conv.weight
        fan_out = w.shape[0] * w[0, 0].numel()
        assert torch.isfinite(w).all()
        assert abs(float(w.std()) / math.sqrt(2 / fan_out) - 1) < 0.1


def test_trident_convs_of_a_teacher_kept_outside_the_tree_get_kaiming():
    init_default_scope('mmdet')
    model = build_method('FitNet', TRIDENT, FASTER)
    teacher = teacher_of(model)
    convs = [m for m in teacher.modules() if isinstance(m, TridentConv)]
    _assert_kaiming(convs)  # build_method initialised them
    for conv in convs:  # what stale memory may hold
        conv.weight.data.fill_(float('nan'))
    init_checkpoint_only_weights(model)
    _assert_kaiming(convs)


def test_ssd_l2norm_gets_its_scale():
    init_default_scope('mmdet')
    model = MODELS.build(offline_model(SSD))
    norm = next(m for m in model.modules() if isinstance(m, L2Norm))
    norm.weight.data.fill_(float('nan'))
    init_checkpoint_only_weights(model)
    assert torch.equal(norm.weight, torch.full_like(norm.weight, norm.scale))
