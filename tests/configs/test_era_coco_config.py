"""The COCO ERA config builds and trains one step on CPU: random weights, a
teacher checkpoint written here, no download."""
import os.path as osp

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


def test_coco_era_config_trains_one_step(tmp_path):
    init_default_scope('mmdet')
    for name in ('era-exact_retinanet_r101-r50_fpn_1x_coco.py',
                 'era-lowmem_retinanet_r101-r50_fpn_1x_coco.py',
                 'era_retinanet_r101-r50_fpn_2x_coco.py',
                 'era_retinanet_r101-r50_fpn_1x_coco.py'):
        cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', 'era', name))
        assert cfg.model.type == 'ERADistiller'
        assert cfg.model.teacher_ckpt.startswith('https://download.openmmlab')
        assert cfg.model.student.backbone.depth == 50
        mbrnet, twi_mode = cfg.model.mbrnet, cfg.model.twi_mode
        if name.startswith('era-exact'):  # full ERA
            assert (mbrnet.num_blocks, mbrnet.bottleneck_ratio) == (2, None)
            assert (twi_mode, cfg.model.twi_precision) == ('all', 'fp32')
        elif name.startswith('era-lowmem'):  # every pass, checkpointed
            assert cfg.model.twi_recompute is True and twi_mode == 'all'
        else:  # the main configs: ERA's cheap setting
            assert (mbrnet.num_blocks, mbrnet.bottleneck_ratio) == (1, 0.25)
            assert (twi_mode, cfg.model.twi_precision) == ('sampled', 'auto')
    # random weights: no pretrained backbones, no zoo teacher download
    teacher_cfg = load_model_config(cfg.model.teacher_config)
    assert teacher_cfg.backbone.depth == 101
    teacher_cfg.backbone.init_cfg = None
    cfg.model.student.backbone.init_cfg = None
    torch.manual_seed(0)
    teacher = MODELS.build(teacher_cfg)
    ckpt = tmp_path / 'teacher_r101.pth'
    torch.save({'state_dict': teacher.state_dict()}, ckpt)
    cfg.model.teacher_config = teacher_cfg
    cfg.model.teacher_ckpt = str(ckpt)

    model = MODELS.build(cfg.model)
    model.init_weights()
    # the config starts the student head from the teacher's (identical heads)
    assert torch.equal(model.student.bbox_head.retina_cls.weight,
                       teacher.bbox_head.retina_cls.weight)
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    before = model.student.backbone.layer4[0].conv1.weight.detach().clone()
    model.train()
    log_vars = model.train_step(_batch(80), optim)
    for key in ('loss_cls', 'loss_bbox', 'era.loss_mimic',
                'era.loss_residual', 'era.loss_twi'):
        assert torch.isfinite(log_vars[key]), key
    assert not torch.equal(before,
                           model.student.backbone.layer4[0].conv1.weight)
