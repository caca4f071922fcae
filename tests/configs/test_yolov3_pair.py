"""YOLOv3 D53 -> MobileNetV2 from mmdet's own configs, offline: the
teacher's neck levels differ in width (512/256/128 at strides 32/16/8), the
student's are 96 wide, so every level has its own width pair.

ERA and PKD as their shipped configs build them (configs/{era,pkd}/
*_yolov3_d53-mnv2_*; ERA's TWI on: YOLOv3's head reads strides 32 -> 8) and
FitNet train one SGD step on two 160 px images with finite losses, a
changed student and an untouched teacher; the ERA student is exported and
loads strictly into stock mmdet's YOLOv3 MobileNetV2, predicting exactly
what the distiller predicts in S-mode.
"""
import copy
import os.path as osp

import pytest
import torch
from coco_offline import coco_batch, offline, teacher_ckpt_writer
from mmdet.registry import MODELS
from mmdet.utils import register_all_modules
from mmengine.config import Config
from mmengine.hub import get_config
from mmengine.runner import load_checkpoint
from one_step import train_one_step

import mmera  # noqa: F401
from mmera.converters import export_student_checkpoint

TEACHER = 'mmdet::yolo/yolov3_d53_8xb8-ms-608-273e_coco.py'
STUDENT = 'mmdet::yolo/yolov3_mobilenetv2_8xb24-320-300e_coco.py'
REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
#: method -> the shipped config whose model it builds, or a model dict
METHODS = {
    'era': 'configs/era/era_yolov3_d53-mnv2_yolov3neck_300e_coco.py',
    'pkd': 'configs/pkd/pkd_yolov3_d53-mnv2_yolov3neck_300e_coco.py',
    'fitnet': dict(type='FitNetDistiller', teacher_config=TEACHER),
}


def _model_cfg(method: str) -> dict:
    spec = METHODS[method]
    if isinstance(spec, dict):
        return copy.deepcopy(spec)
    model = Config.fromfile(osp.join(REPO, spec)).model
    assert model.teacher_config == TEACHER
    def plain(cfg):
        return {k: v for k, v in cfg.to_dict().items() if k != '_scope_'}
    assert plain(model.student) == plain(get_config(STUDENT).model)
    return model


@pytest.fixture(scope='module')
def student_cfg():
    register_all_modules()
    return offline(get_config(STUDENT).model)


@pytest.fixture(scope='module')
def teacher_ckpt(tmp_path_factory):
    register_all_modules()
    return teacher_ckpt_writer(tmp_path_factory)(TEACHER)


@pytest.mark.parametrize('method', sorted(METHODS))
def test_yolov3_pair_trains_a_step(method, student_cfg, teacher_ckpt,
                                   tmp_path):
    torch.manual_seed(0)
    model = MODELS.build(dict(_model_cfg(method), student=student_cfg,
                              teacher_ckpt=teacher_ckpt))
    model.init_weights()
    s_widths, t_widths = model.pairing.level_channels()
    assert model.pairing.strides == ((32, 16, 8) if method == 'era' else
                                     (8, 16, 32))
    assert set(s_widths) == {96}, s_widths
    assert len(set(t_widths)) == 3, t_widths  # 512/256/128: per level
    log_vars = train_one_step(model, coco_batch())
    keys = {'era': ('era.loss_mimic', 'era.loss_residual', 'era.loss_twi'),
            'pkd': ('pkd.loss_feat', ), 'fitnet': ('fitnet.loss_feat', )}
    for key in keys[method]:
        assert torch.isfinite(log_vars[key]), (key, log_vars)
    if method != 'era':
        return
    assert log_vars['era.loss_twi'] > 0
    # one adapter and K branches per (student, teacher) width pair
    assert model.mbrnet.num_branches == 4
    assert model.mbrnet.level_groups == (0, 1, 2)
    assert len(model.mbrnet.groups) == 3

    # the exported student is stock mmdet's YOLOv3 MobileNetV2
    out = str(tmp_path / 'student.pth')
    export_student_checkpoint(dict(state_dict=model.state_dict()), out)
    stock = MODELS.build(copy.deepcopy(student_cfg))
    load_checkpoint(stock, out, map_location='cpu', strict=True)
    stock.eval()
    model.eval()
    data = coco_batch(seed=1)
    with torch.no_grad():
        got = model.test_step(copy.deepcopy(data))
        want = stock.test_step(copy.deepcopy(data))
        batch = model.data_preprocessor(copy.deepcopy(data), False)['inputs']
        raw_got, raw_want = model._forward(batch), stock._forward(batch)
    for g, w in zip(raw_got, raw_want):
        for a, b in zip(g, w):
            assert torch.isfinite(a).all()
            assert torch.equal(a, b)
    for g, w in zip(got, want):
        for key in ('bboxes', 'scores', 'labels'):
            assert torch.equal(g.pred_instances[key], w.pred_instances[key])
