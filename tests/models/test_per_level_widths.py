"""Necks whose levels differ in width (the YOLO family): per-level
FeatureAdapter and MBRNet, the pairing's per-level widths, and every feature
method on a tiny YOLOv3 teacher (512/256/128-style widths, coarse first)."""
import copy

import pytest
import torch
from mmdet.registry import MODELS
from mmengine.hub import get_config
from tiny_detectors import make_samples, tiny_detector

from mmera.models import MBRNet
from mmera.models.common.feature_adapter import FeatureAdapter
from mmera.models.common.feature_pairing import NeckLayout, pair_by_stride

YOLO_WIDTHS = (64, 32, 16)  # strides 32, 16, 8: as YOLOv3's neck returns


def tiny_yolo(widths=YOLO_WIDTHS):
    """mmdet's YOLOv3 MobileNetV2 config, narrowed (per-level widths)."""
    model = get_config(
        'mmdet::yolo/yolov3_mobilenetv2_8xb24-320-300e_coco.py').model
    model.backbone.update(widen_factor=0.25, init_cfg=None)
    model.neck.update(in_channels=[80, 24, 8], out_channels=list(widths))
    model.bbox_head.update(num_classes=3, in_channels=list(widths),
                           out_channels=list(widths))
    return model


def _fpn_student():
    # a 32-wide FPN at strides 8/16/32: the YOLO teacher's strides
    student = tiny_detector('retinanet')
    student.neck.update(num_outs=3)
    student.bbox_head.anchor_generator.strides = [8, 16, 32]
    return student


# -- FeatureAdapter -----------------------------------------------------------
def test_adapter_keys_of_one_width_are_unchanged():
    keys = {f'convs.{i}.{p}' for i in range(3) for p in ('weight', 'bias')}
    assert set(FeatureAdapter(8, 16, 3).state_dict()) == keys
    assert set(FeatureAdapter([8] * 3, [16] * 3, 3).state_dict()) == keys
    assert FeatureAdapter(8, 8, 3).convs is None
    assert FeatureAdapter([8] * 3, 8, 3).convs is None
    assert set(FeatureAdapter(8, 8, 2, mode='conv').state_dict()) == {
        f'convs.{i}.{p}' for i in range(2) for p in ('weight', 'bias')}


def test_adapter_maps_each_level_to_its_width():
    adapter = FeatureAdapter([8, 16, 16], [8, 32, 16], 3)
    # a conv where the level's widths differ, identity where they match
    assert set(adapter.state_dict()) == {'convs.1.weight', 'convs.1.bias'}
    feats = [torch.randn(2, c, 4, 4) for c in (8, 16, 16)]
    out = adapter(feats)
    assert [o.shape[1] for o in out] == [8, 32, 16]
    assert out[0] is feats[0] and out[2] is feats[2]
    conv = FeatureAdapter([8, 16, 16], [8, 32, 16], 3, mode='conv',
                          bias=False)
    assert [c.weight.shape[:2] for c in conv.convs] == [
        (8, 8), (32, 16), (16, 16)]
    assert [o.shape[1] for o in conv(feats)] == [8, 32, 16]


def test_adapter_refusals_name_the_widths():
    with pytest.raises(ValueError, match=r'\[8, 16\] channels, the '
                       r"teacher's \[8, 32\]; with adapter mode \"none\""):
        FeatureAdapter([8, 16], [8, 32], 2, mode='none')
    with pytest.raises(ValueError, match='teacher_channels gives 2 widths '
                       r'\[8, 32\] for 3 levels'):
        FeatureAdapter(8, [8, 32], 3)


# -- MBRNet
# ---------------------------------------------------------------------
def test_mbrnet_keys_of_one_width_are_unchanged():
    plain = set(MBRNet(8, 16, num_branches=2).state_dict())
    assert set(MBRNet([8] * 3, [16] * 3, num_branches=2).state_dict()) == \
        plain
    assert {k.split('.')[0] for k in plain} == {'adapter', 'branches'}


def test_mbrnet_groups_levels_by_width_pair():
    net = MBRNet([8, 16, 16], [16, 32, 32], num_branches=2)
    net.init_weights()
    assert net.level_groups == (0, 1, 1)
    assert len(net.groups) == 2
    # levels of one width pair share their adapter and branches
    assert net._group(1) is net._group(2)
    assert {k.split('.')[0] for k in net.state_dict()} == {'groups'}
    uniform = MBRNet(16, 32, num_branches=2)
    group_params = sum(p.numel() for p in net.groups[1].parameters())
    assert group_params == sum(p.numel() for p in uniform.parameters())
    feats = [torch.randn(2, c, s, s) for c, s in ((8, 8), (16, 4), (16, 2))]
    base, preds = net(feats)
    assert [b.shape for b in base] == [(2, 16, 8, 8), (2, 32, 4, 4),
                                       (2, 32, 2, 2)]
    assert len(preds) == 2
    for pred in preds:  # every branch starts at exactly zero
        assert [p.shape for p in pred] == [b.shape for b in base]
        assert all(torch.equal(p, torch.zeros_like(p)) for p in pred)
    teacher = [torch.randn_like(b) for b in base]
    losses = net.loss(base, preds, teacher)
    assert torch.isfinite(losses['loss_mimic'] + losses['loss_residual'])
    assert 'residual_k2_p2' in losses


def test_mbrnet_per_level_refusals():
    with pytest.raises(ValueError, match=r'MBRNet: got 2 levels, built for '
                       r'3'):
        MBRNet([8, 16, 16], [16, 32, 32])([torch.randn(1, 8, 4, 4)] * 2)
    with pytest.raises(ValueError, match=r'student FPN has \[8, 16\] '
                       r'channels, the teacher FPN 8; with adapter="none"'):
        MBRNet([8, 16], 8, adapter='none')
    with pytest.raises(ValueError, match='one width per level'):
        MBRNet([8, 16], [8, 16, 32])


# -- the pairing
# ------------------------------------------------------------------
def test_pairing_gives_each_levels_widths():
    yolo = NeckLayout((32, 16, 8), (512, 256, 128), 'YOLOV3Neck')
    fpn = NeckLayout((8, 16, 32, 64), (96, ) * 4, 'FPN')
    pairing = pair_by_stride(fpn, yolo, 'M')
    assert pairing.level_channels() == ((96, 96, 96), (128, 256, 512))
    with pytest.raises(ValueError, match=r"teacher's neck \(YOLOV3Neck\) "
                       r'returns maps of different widths \[128, 256, 512\]'
                       r'.*FitNet, PKD or ERA'):
        pairing.channels('M')
    head_order = pair_by_stride(fpn, yolo, 'M', need_strides=[32, 16, 8])
    assert head_order.level_channels() == ((96, 96, 96), (512, 256, 128))


# -- the methods on a tiny YOLOv3 teacher
# -------------------------------------------
@pytest.mark.parametrize('method, prefix, adapted', [
    ('FitNetDistiller', 'fitnet', [0, 1, 2]),
    ('PKDDistiller', 'pkd', [0, 2]),  # 32 == 32 at stride 16
    ('RKDDistiller', 'rkd', [0, 2]),
    ('ResKDDistiller', 'reskd', [0, 2]),
    ('ERADistiller', 'era', None),
])
def test_methods_distil_a_yolo_teacher(method, prefix, adapted):
    torch.manual_seed(0)
    model = MODELS.build(dict(type=method, student=_fpn_student(),
                              teacher_config=tiny_yolo()))
    model.student.init_weights()
    model.teacher_loaded = True  # random teacher weights suffice here
    if method == 'ERADistiller':
        model.mbrnet.init_weights()
        model.twi.load_from(model.teacher.bbox_head)
        # the head's order, 32 -> 8: one group per (32, 64/32/16) pair
        assert model.pairing.strides == (32, 16, 8)
        assert model.mbrnet.level_groups == (0, 1, 2)
    else:
        assert sorted({int(k.split('.')[2]) for k in model.state_dict()
                       if k.startswith('adapter.')}) == adapted
    model.train()
    losses = model.loss(torch.randn(2, 3, 128, 128), make_samples(2, 128))
    distill = {k: v for k, v in losses.items() if k.startswith(prefix)
               and '.loss' in k}
    values = [x for v in distill.values()  # ResKD: per-level lists too
              for x in (v if isinstance(v, (list, tuple)) else [v])]
    assert values and all(torch.isfinite(v).all() for v in values)
    if method == 'ERADistiller':
        assert distill['era.loss_twi'] > 0


def test_crosskd_refuses_a_yolo_head_naming_what_works():
    with pytest.raises(ValueError, match=r"teacher's head is YOLOV3Head.*"
                       'FitNet, PKD and ERA'):
        MODELS.build(dict(type='CrossKDDistiller',
                          student=tiny_detector('retinanet'),
                          teacher_config=copy.deepcopy(tiny_yolo())))
