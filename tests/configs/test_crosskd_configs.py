"""The CrossKD configs train one step on CPU: the tiny synthetic ones, the
DeepForest mini set's (MobileNetV2 teacher) and mmdet's COCO pairs, with
random weights (no pretrained backbone, no zoo download) and a teacher
checkpoint written here, loaded strictly through ``teacher_ckpt``."""
import os.path as osp

import pytest
import torch
from cli_helpers import REPO_ROOT
from coco_offline import (
    coco_batch,
    offline,
    teacher_ckpt_writer,
    without_scope,
    zoo_weights,
)
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.hub import get_config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope

import mmera  # noqa: F401
from mmera.models import load_model_config

CONFIGS = osp.join(REPO_ROOT, 'configs', 'crosskd')
# config -> (head family, teacher config, teacher checkpoint in work_dirs/)
TINY = {
    'crosskd_retinanet_r34w32-r18w16_fpn_500it_synthetic.py':
    ('retinanet', 'tiny/retinanet_r34w32_fpn_3000it_synthetic.py',
     'teacher_synthetic/teacher.pth'),
    'crosskd_gfl_r34w32-r18w16_fpn_500it_synthetic.py':
    ('gfl', 'tiny/gfl_r34w32_fpn_3000it_synthetic.py',
     'teacher_gfl_synthetic/teacher.pth'),
    # the real mini set: ImageNet-MobileNetV2 teacher, 1-class heads
    'crosskd_retinanet_mnv2-r18w16_fpn_500it_deepforest.py':
    ('retinanet', 'tiny/retinanet_mnv2_fpn_2000it_deepforest.py',
     'teacher_deepforest/teacher.pth'),
}
# config -> (teacher, student) mmdet configs
COCO = {
    'crosskd_retinanet_r101-r50_fpn_1x_coco.py':
    ('retinanet/retinanet_r101_fpn_1x_coco.py',
     'retinanet/retinanet_r50_fpn_1x_coco.py'),
    'crosskd_gfl_r101-r50_fpn_1x_coco.py':
    ('gfl/gfl_r101_fpn_ms-2x_coco.py', 'gfl/gfl_r50_fpn_1x_coco.py'),
}


# faster for these CPU steps on a shared 2-core machine
pytestmark = pytest.mark.usefixtures('one_thread')


def _repo_path(path: str) -> str:
    return osp.relpath(osp.normpath(path), REPO_ROOT)


@pytest.fixture(scope='module')
def teacher_ckpts(tmp_path_factory):
    return teacher_ckpt_writer(tmp_path_factory)


def _train_one_step(cfg, data, family):
    """Builds ``cfg.model`` (teacher loaded in ``init_weights``), runs one
    optimizer step; checks the losses, that the student moved and the
    teacher did not."""
    model = MODELS.build(cfg.model)
    model.init_weights()
    teacher = {k: v.clone() for k, v in model.teacher.state_dict().items()}
    conv = model.student.bbox_head.cls_convs[0].conv.weight
    before = conv.detach().clone()
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    model.train()
    log_vars = model.train_step(data, optim)
    keys = ['loss_cls', 'loss_bbox', 'crosskd.loss_cls', 'crosskd.loss_bbox']
    if family == 'gfl':
        keys += ['loss_dfl', 'crosskd.loss_ld']
    for key in keys:
        assert torch.isfinite(log_vars[key]), key
    assert log_vars['crosskd.loss_cls'] > 0
    assert not torch.equal(before, conv)
    for key, value in model.teacher.state_dict().items():
        assert torch.equal(value, teacher[key]), key
    return model


@pytest.mark.parametrize('name', sorted(TINY))
def test_tiny_config_trains_one_step(name, teacher_ckpts):
    init_default_scope('mmdet')
    family, teacher_rel, ckpt_rel = TINY[name]
    cfg = Config.fromfile(osp.join(CONFIGS, name))
    assert cfg.model.type == 'CrossKDDistiller'
    assert cfg.model.cross_index == 1  # the tiny heads have 2 tower convs
    assert _repo_path(cfg.model.teacher_config) == f'configs/{teacher_rel}'
    assert _repo_path(cfg.model.teacher_ckpt) == f'work_dirs/{ckpt_rel}'
    assert 'ExportStudentHook' in [h['type'] for h in cfg.custom_hooks]
    # random weights: no pretrained backbone (the MobileNetV2 teacher's
    # ImageNet init_cfg) in the written checkpoint
    teacher = load_model_config(cfg.model.teacher_config).copy()
    teacher.backbone.init_cfg = None
    cfg.model.teacher_ckpt = teacher_ckpts(teacher)
    data = coco_batch()
    # the synthetic sets have 5 classes, the DeepForest set 1 ('Tree')
    num_classes = cfg.model.student.bbox_head.num_classes
    for sample in data['data_samples']:
        sample.gt_instances.labels %= num_classes
    _train_one_step(cfg, data, family)


@pytest.mark.parametrize('name', sorted(COCO))
def test_coco_config_builds_offline_and_trains_one_step(name, teacher_ckpts):
    init_default_scope('mmdet')
    cfg = Config.fromfile(osp.join(CONFIGS, name))
    teacher, student = COCO[name]
    assert cfg.model.type == 'CrossKDDistiller'
    assert cfg.model.teacher_config == f'mmdet::{teacher}'
    assert cfg.model.teacher_ckpt in zoo_weights(teacher)
    assert cfg.model.cross_index == 3  # the paper's i for 4-conv heads
    # the student and its schedule are mmdet's, unchanged
    stock = get_config(f'mmdet::{student}')
    assert without_scope(cfg.model.student) == without_scope(stock.model)
    assert without_scope(cfg.train_cfg) == without_scope(stock.train_cfg)
    # random weights: no pretrained backbones, no zoo teacher download
    cfg.model.student = offline(cfg.model.student)
    cfg.model.teacher_config = offline(
        load_model_config(cfg.model.teacher_config))
    cfg.model.teacher_ckpt = teacher_ckpts(f'mmdet::{teacher}')
    model = _train_one_step(cfg, coco_batch(), teacher.split('/')[0])
    assert model.cross_index == 3
    assert all(k.startswith('student.') for k in model.state_dict())
