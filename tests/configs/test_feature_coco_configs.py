"""The FitNet and PKD configs: COCO ones build and train one step on CPU
(random weights, a teacher checkpoint written here, no download); the tiny
synthetic and mini-set ones build with FPNs that fit."""
import os.path as osp

import pytest
import torch
from cli_helpers import REPO_ROOT
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

import mmera  # noqa: F401
from mmera.models import load_model_config

CONFIGS = osp.join(REPO_ROOT, 'configs')


# faster for these CPU steps on a shared 2-core machine
pytestmark = pytest.mark.usefixtures('one_thread')


def _batch(num_classes: int):
    inputs, samples = [], []
    for i in range(2):
        inputs.append(torch.randint(0, 255, (3, 128, 160), dtype=torch.uint8))
        sample = DetDataSample(metainfo=dict(
            img_shape=(128, 160), ori_shape=(128, 160), scale_factor=(1., 1.)))
        sample.gt_instances = InstanceData(
            bboxes=torch.tensor([[10., 12., 70., 90.],
                                 [60., 30., 150., 120.]]),
            labels=torch.tensor([i, num_classes - 1]))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


@pytest.fixture(scope='module')
def r101_teacher(tmp_path_factory):
    """The COCO teacher config without its pretrained-backbone download, and
    a random-weight checkpoint for it."""
    init_default_scope('mmdet')
    cfg = Config.fromfile(
        osp.join(CONFIGS, 'pkd', 'pkd_retinanet_r101-r50_fpn_1x_coco.py'))
    teacher_cfg = load_model_config(cfg.model.teacher_config)
    assert teacher_cfg.backbone.depth == 101
    teacher_cfg.backbone.init_cfg = None
    torch.manual_seed(0)
    teacher = MODELS.build(teacher_cfg)
    ckpt = tmp_path_factory.mktemp('r101') / 'teacher_r101.pth'
    torch.save({'state_dict': teacher.state_dict()}, ckpt)
    return teacher_cfg, str(ckpt)


@pytest.mark.parametrize('method, kind, loss_weight, levels, adapter_convs', [
    ('fitnet', 'FitNetDistiller', 1.0, [0, 1, 2, 3, 4], 5),
    ('pkd', 'PKDDistiller', 6.0, [0, 1, 2, 3], 0),
])
def test_coco_config_trains_one_step(method, kind, loss_weight, levels,
                                     adapter_convs, r101_teacher):
    init_default_scope('mmdet')
    cfg = Config.fromfile(
        osp.join(CONFIGS, method,
                 f'{method}_retinanet_r101-r50_fpn_1x_coco.py'))
    assert cfg.model.type == kind
    assert cfg.model.teacher_ckpt.startswith('https://download.openmmlab')
    assert cfg.model.teacher_config == (
        'mmdet::retinanet/retinanet_r101_fpn_1x_coco.py')
    assert cfg.model.student.backbone.depth == 50
    assert 'ExportStudentHook' in [h['type'] for h in cfg.custom_hooks]
    # random weights: no pretrained backbones, no zoo teacher download
    cfg.model.student.backbone.init_cfg = None
    cfg.model.teacher_config, cfg.model.teacher_ckpt = r101_teacher

    model = MODELS.build(cfg.model)
    model.init_weights()
    assert model.distill_loss.loss_weight == loss_weight
    assert model.levels == levels
    convs = model.adapter.convs
    assert (0 if convs is None else len(convs)) == adapter_convs
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    before = model.student.backbone.layer4[0].conv1.weight.detach().clone()
    model.train()
    log_vars = model.train_step(_batch(80), optim)
    for key in ('loss_cls', 'loss_bbox', f'{method}.loss_feat'):
        assert torch.isfinite(log_vars[key]), key
    assert log_vars[f'{method}.loss_feat'] > 0
    assert not torch.equal(before,
                           model.student.backbone.layer4[0].conv1.weight)


@pytest.mark.parametrize('name', [
    'fitnet/fitnet_retinanet_r34w32-r18w16_fpn_500it_synthetic.py',
    'fitnet/fitnet_retinanet_mnv2-r18w16_fpn_500it_deepforest.py',
    'pkd/pkd_retinanet_r34w32-r18w16_fpn_500it_synthetic.py',
    'pkd/pkd_retinanet_mnv2-r18w16_fpn_500it_deepforest.py',
])
def test_tiny_configs_pair_fpns_of_the_same_shapes(name):
    init_default_scope('mmdet')
    cfg = Config.fromfile(osp.join(CONFIGS, name))
    assert 'ExportStudentHook' in [h['type'] for h in cfg.custom_hooks]
    assert cfg.model.teacher_ckpt.endswith('/teacher.pth')
    model = MODELS.build(cfg.model)  # checks levels, channels, adapter
    inputs = torch.randn(1, 3, 128, 128)
    with torch.no_grad():
        student = model.student.extract_feat(inputs)
        teacher = model.teacher.extract_feat(inputs)  # not loaded: shapes only
    assert [f.shape for f in student] == [f.shape for f in teacher]
