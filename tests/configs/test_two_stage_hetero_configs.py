"""The two-stage and heterogeneous-teacher COCO configs, offline.

ERA, PKD and FitNet on mmdet's Faster R-CNN and Mask R-CNN (R101 -> R50),
and ERA and PKD from a Swin-T RetinaNet to a RetinaNet R50. Each config is
built as a user would run it, except that the weights are random:
the teacher checkpoint is written by the test (random weights of the
teacher's config, loaded strictly through ``teacher_ckpt``) and the
student's ImageNet backbone is not downloaded. One SGD step on two 160 px
images must give finite losses (the student's own ones, its mask loss for
Mask R-CNN, and the method's; ERA's TWI through the teacher's RPN and RoI
box head), change the student and leave the teacher untouched. For Faster
R-CNN PKD and Mask R-CNN ERA, the exported student loads strictly into stock
mmdet and predicts exactly what the distiller predicts (boxes; masks too).
"""
import copy
import os.path as osp

import pytest
import torch
from coco_offline import (
    coco_batch,
    offline,
    teacher_ckpt_writer,
    without_scope,
    zoo_weights,
)
from mmdet.registry import MODELS
from mmdet.utils import register_all_modules
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmengine.runner import load_checkpoint

import mmera  # noqa: F401
from mmera.converters import export_student_checkpoint
from mmera.models import load_model_config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

# config -> (teacher config, student config) of mmdet
CONFIGS = {
    'pkd/pkd_fasterrcnn_r101-r50_fpn_1x_coco.py':
    ('faster_rcnn/faster-rcnn_r101_fpn_1x_coco.py',
     'faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'),
    'fitnet/fitnet_fasterrcnn_r101-r50_fpn_1x_coco.py':
    ('faster_rcnn/faster-rcnn_r101_fpn_1x_coco.py',
     'faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'),
    'pkd/pkd_maskrcnn_r101-r50_fpn_1x_coco.py':
    ('mask_rcnn/mask-rcnn_r101_fpn_1x_coco.py',
     'mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'),
    'fitnet/fitnet_maskrcnn_r101-r50_fpn_1x_coco.py':
    ('mask_rcnn/mask-rcnn_r101_fpn_1x_coco.py',
     'mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'),
    'era/era_retinanet_swint-r50_fpn_1x_coco.py':
    ('swin/retinanet_swin-t-p4-w7_fpn_1x_coco.py',
     'retinanet/retinanet_r50_fpn_1x_coco.py'),
    'pkd/pkd_retinanet_swint-r50_fpn_1x_coco.py':
    ('swin/retinanet_swin-t-p4-w7_fpn_1x_coco.py',
     'retinanet/retinanet_r50_fpn_1x_coco.py'),
    'era/era_fasterrcnn_r101-r50_fpn_1x_coco.py':
    ('faster_rcnn/faster-rcnn_r101_fpn_1x_coco.py',
     'faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'),
    'era/era_maskrcnn_r101-r50_fpn_1x_coco.py':
    ('mask_rcnn/mask-rcnn_r101_fpn_1x_coco.py',
     'mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'),
}


#: configs whose exported student is checked against stock mmdet
EXPORTED = ('pkd/pkd_fasterrcnn_r101-r50_fpn_1x_coco.py',
            'era/era_maskrcnn_r101-r50_fpn_1x_coco.py')


@pytest.fixture(scope='module')
def teacher_ckpts(tmp_path_factory):
    """A random-weight checkpoint per teacher config, written once."""
    register_all_modules()
    return teacher_ckpt_writer(tmp_path_factory)


@pytest.fixture(scope='module')
def registry():
    register_all_modules()
    # R101 + R50 detectors: faster on one thread on this shared 2-core
    # machine (two threads contend with each other and the other jobs)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield MODELS
    torch.set_num_threads(threads)


@pytest.mark.parametrize('config', sorted(CONFIGS))
def test_config_names_mmdets_configs(config):
    teacher, student = CONFIGS[config]
    cfg = Config.fromfile(osp.join(REPO, 'configs', config))
    assert cfg.model.teacher_config == f'mmdet::{teacher}'
    # the student is mmdet's config unchanged
    assert without_scope(cfg.model.student) == without_scope(
        load_model_config(f'mmdet::{student}'))
    assert cfg.custom_imports.imports[0] == 'mmera'
    assert cfg.runner_type == 'mmdet.MMERARunner'
    hooks = [h['type'] for h in cfg.custom_hooks]
    assert hooks[-1] == 'ExportStudentHook'
    if 'rtmdet' in config:  # mmdet's RTMDet hooks stay, first
        assert hooks[:2] == ['EMAHook', 'PipelineSwitchHook']
    zoo = zoo_weights(teacher)
    if 'swint' in config:  # no zoo checkpoint: a documented local path
        assert zoo == []
        assert cfg.model.teacher_ckpt.endswith(
            'work_dirs/teacher_retinanet_swin-t_coco/teacher.pth')
    else:  # the checkpoint mmdet's metafile gives for the teacher
        assert zoo == [cfg.model.teacher_ckpt]


@pytest.mark.parametrize('config', sorted(CONFIGS))
def test_config_trains_a_step_offline(config, registry, teacher_ckpts,
                                      tmp_path):
    cfg = Config.fromfile(osp.join(REPO, 'configs', config))
    model_cfg = copy.deepcopy(cfg.model)
    teacher_cfg = offline(load_model_config(model_cfg.teacher_config))
    model_cfg.teacher_config = teacher_cfg
    model_cfg.student = offline(model_cfg.student)
    model_cfg.teacher_ckpt = teacher_ckpts(teacher_cfg)
    torch.manual_seed(0)
    model = registry.build(model_cfg)
    model.init_weights()  # loads the teacher checkpoint strictly
    assert model.teacher_loaded
    assert model.teacher_inputs.same is True

    teacher_before = {k: v.clone()
                      for k, v in model.teacher.state_dict().items()}
    student_before = {k: v.clone()
                      for k, v in model.student.state_dict().items()}
    params = [p for p in model.parameters() if p.requires_grad]
    optim = OptimWrapper(torch.optim.SGD(params, lr=1e-3))
    model.train()
    masks = 'maskrcnn' in config
    log_vars = model.train_step(coco_batch(with_masks=masks), optim)

    assert torch.isfinite(log_vars['loss'])
    assert all(torch.isfinite(torch.as_tensor(v)).all()
               for k, v in log_vars.items() if 'loss' in k), log_vars
    method = osp.basename(config).split('_')[0]
    assert any(k.startswith(f'{method}.loss') for k in log_vars), log_vars
    if method == 'era':  # TWI runs (dense head, or RPN + RoI box head)
        assert 'era.loss_twi' in log_vars, log_vars
    if 'rcnn' in config:  # the student's own RPN and RoI losses
        for key in ('loss_rpn_cls', 'loss_rpn_bbox', 'loss_cls',
                    'loss_bbox'):
            assert key in log_vars, (key, log_vars)
    if masks:
        assert 'loss_mask' in log_vars, log_vars
        assert log_vars['loss_mask'] > 0
    after = model.teacher.state_dict()
    assert all(torch.equal(v, after[k]) for k, v in teacher_before.items())
    assert not model.teacher.training
    student_after = model.student.state_dict()
    assert any(not torch.equal(v, student_after[k])
               for k, v in student_before.items())
    assert all(torch.isfinite(v).all() for v in student_after.values()
               if v.is_floating_point())

    if config not in EXPORTED:
        return
    # the exported student is a stock mmdet Faster / Mask R-CNN predicting
    # the same boxes (and masks)
    out = str(tmp_path / 'student.pth')
    export_student_checkpoint(dict(state_dict=model.state_dict()), out)
    stock = registry.build(offline(cfg.model.student))
    load_checkpoint(stock, out, map_location='cpu', strict=True)
    assert stock.roi_head.test_cfg.score_thr == 0.0
    assert model.student.roi_head.test_cfg.score_thr == 0.0
    stock.eval()
    model.eval()
    data = coco_batch(seed=1)
    with torch.no_grad():
        got = model.test_step(copy.deepcopy(data))
        want = stock.test_step(copy.deepcopy(data))
    for g, w in zip(got, want):
        assert len(g.pred_instances) > 0
        for key in ('bboxes', 'scores', 'labels') + (('masks', ) if masks
                                                     else ()):
            assert torch.equal(g.pred_instances[key], w.pred_instances[key])
