"""The FLOPs wrapper: one count for a module, a callable of a model's parts
and a detector's test-time forward."""
import torch
from mmdet.registry import MODELS
from mmengine.registry import init_default_scope
from torch import nn

from mmera.analysis.flops import count_flops, count_params, detector_flops
from mmera.models import load_model_config

STUDENT = 'configs/tiny/retinanet_r18w16_fpn_500it_synthetic.py'


def test_count_flops_counts_multiply_adds():
    conv = nn.Conv2d(3, 8, 3, padding=1, bias=False)
    x = torch.zeros(1, 3, 10, 10)
    assert count_flops(conv, (x, )) == 8 * 3 * 9 * 100
    # a callable of the module's parts: the same count
    assert count_flops(lambda t: conv(t), (x, ), conv) == 8 * 3 * 9 * 100
    shared = nn.Linear(4, 4)
    assert count_params([shared, nn.Sequential(shared)]) == 20


def test_detector_flops_grow_with_the_image():
    init_default_scope('mmdet')
    cfg = load_model_config(STUDENT)
    cfg.backbone.init_cfg = None
    detector = MODELS.build(cfg).train()
    small, large = detector_flops(detector, 64), detector_flops(detector, 128)
    assert 0 < small < large
    assert detector.training  # its mode is restored
