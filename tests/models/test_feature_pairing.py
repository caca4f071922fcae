"""Pairing by stride, from what the necks really return."""
import pytest
import torch
from mmdet.registry import MODELS
from tiny_detectors import tiny_detector

from mmera.models.common.feature_pairing import (
    NeckLayout,
    head_strides,
    neck_layout,
    pair_by_stride,
)


@pytest.mark.parametrize('family,strides', [
    ('retinanet', (8, 16, 32, 64, 128)),
    ('fcos', (8, 16, 32, 64, 128)),
    ('rtmdet', (8, 16, 32)),
])
def test_neck_layout_from_a_dry_run(family, strides):
    det = MODELS.build(tiny_detector(family, channels=32))
    det.train()
    stats = {k: v.clone() for k, v in det.state_dict().items()
             if 'running' in k}
    layout = neck_layout(det)
    assert layout.strides == strides
    assert layout.channels == (32, ) * len(strides)
    assert layout.neck == type(det.neck).__name__
    assert head_strides(det.bbox_head) == strides
    # the dry run changed no BN statistics and kept the mode
    assert det.training
    assert all(torch.equal(v, det.state_dict()[k]) for k, v in stats.items())


def test_channel_mapper_and_backbone_only_layouts():
    det_cfg = tiny_detector('retinanet')
    det_cfg.neck = dict(type='ChannelMapper', in_channels=[32, 64, 128],
                        out_channels=32, num_outs=4)
    det_cfg.backbone.out_indices = (1, 2, 3)
    assert neck_layout(MODELS.build(det_cfg)).strides == (8, 16, 32, 64)
    det_cfg.neck = None
    layout = neck_layout(MODELS.build(det_cfg))
    assert layout.strides == (8, 16, 32) and layout.channels == (32, 64, 128)
    assert layout.neck == 'no neck (backbone)'


def _layout(strides, channels=64, neck='FPN'):
    return NeckLayout(tuple(strides), (channels, ) * len(strides), neck)


def test_common_strides_are_paired_in_order():
    student = _layout([4, 8, 16, 32, 64])
    teacher = _layout([8, 16, 32, 64, 128], 256)
    pairing = pair_by_stride(student, teacher, 'M')
    assert pairing.strides == (8, 16, 32, 64)
    assert pairing.student_index == (1, 2, 3, 4)
    assert pairing.teacher_index == (0, 1, 2, 3)
    assert pairing.channels('M') == (64, 256)
    feats = list(range(5))
    assert pairing.select_student(feats) == [1, 2, 3, 4]
    assert pairing.select_teacher(feats) == [0, 1, 2, 3]
    same = pair_by_stride(teacher, teacher, 'M')
    assert same.student_index == same.teacher_index == (0, 1, 2, 3, 4)


def test_needed_strides_keep_the_heads_order():
    """YOLOv3's neck and head go from stride 32 to 8: TWI must give the
    teacher's head its levels in that order."""
    coarse_first = _layout([32, 16, 8])
    student = _layout([8, 16, 32, 64])
    pairing = pair_by_stride(student, coarse_first, 'M',
                             need_strides=[32, 16, 8])
    assert pairing.strides == (32, 16, 8)
    assert pairing.student_index == (2, 1, 0)
    assert pairing.teacher_index == (0, 1, 2)


def test_needed_strides_must_all_be_in_the_student():
    student = _layout([8, 16, 32], neck='CSPNeXtPAFPN')
    teacher = _layout([8, 16, 32, 64, 128])
    with pytest.raises(ValueError, match=r"M: the teacher's head reads "
                       r"strides \[8, 16, 32, 64, 128\].*CSPNeXtPAFPN.*"
                       r"lacks \[64, 128\].*FitNet, PKD"):
        pair_by_stride(student, teacher, 'M',
                       need_strides=[8, 16, 32, 64, 128])
    ok = pair_by_stride(teacher, student, 'M', need_strides=[8, 16, 32])
    assert ok.strides == (8, 16, 32)


def test_a_detector_that_cannot_dry_run_is_named():
    cfg = tiny_detector('retinanet')
    cfg.neck.in_channels = [8, 16, 32, 64]  # not the backbone's widths
    det = MODELS.build(cfg)
    with pytest.raises(ValueError, match=r'could not run RetinaNet on a blank '
                       r'256x256 image .*RuntimeError'):
        neck_layout(det)


def test_refusals_name_both_necks():
    with pytest.raises(ValueError, match='no stride in common'):
        pair_by_stride(_layout([4]), _layout([8]), 'M')
    with pytest.raises(ValueError, match=r'M combines every level.*\[8, 16\]'
                       r'.*\[8, 16, 32\]'):
        pair_by_stride(_layout([8, 16]), _layout([8, 16, 32]), 'M',
                       all_levels=True)
    with pytest.raises(ValueError, match='several maps of one stride'):
        pair_by_stride(_layout([8, 8]), _layout([8]), 'M')
    mixed = NeckLayout((8, 16), (64, 128), 'HRFPN')
    with pytest.raises(ValueError, match=r"student's neck \(HRFPN\) returns "
                       r'maps of different widths \[64, 128\]'):
        pair_by_stride(mixed, _layout([8, 16]), 'M').channels('M')


def test_ssd_levels_are_read_at_512_or_refused_when_ambiguous():
    """SSD512 cannot run at the usual 256 px dry run (its last maps shrink
    below their kernels): its strides are read at 512 px. SSD300's last
    levels do not divide any image evenly: refused, not paired wrongly."""
    from mmera.analysis.offline import offline_model
    from mmera.models.common.feature_pairing import neck_layout
    ssd512 = MODELS.build(offline_model('ssd/ssd512_coco.py'))
    assert neck_layout(ssd512).strides == (8, 16, 32, 64, 128, 256, 512)
    ssd300 = MODELS.build(offline_model('ssd/ssd300_coco.py'))
    with pytest.raises(ValueError, match=r'\(SSDNeck\) .* strides are '
                       'ambiguous'):
        neck_layout(ssd300)
