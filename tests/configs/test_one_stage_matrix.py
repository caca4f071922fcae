"""The one-stage COCO matrix: ERA, FitNet and PKD on mmdet's own GFL, ATSS,
FCOS and RTMDet configs, offline.

Each config is built as a user would run it, except that the weights are
random: the teacher checkpoint is written by the test (random weights of the
teacher's mmdet config, loaded strictly through ``teacher_ckpt``) and the
student's ImageNet backbone is not downloaded. One SGD step on two 160 px
images must give finite losses, change the student and leave the teacher
untouched. For one method per pair, the exported student loads strictly into
stock mmdet and predicts exactly what the distiller predicts in S-mode.
"""
import copy
import glob
import os.path as osp

import pytest
import torch
from coco_offline import coco_batch, offline, teacher_ckpt_writer
from mmdet.registry import MODELS
from mmdet.utils import register_all_modules
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmengine.runner import load_checkpoint

import mmera  # noqa: F401
from mmera.converters import export_student_checkpoint

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
FAMILIES = ('gfl', 'atss', 'fcos', 'rtmdet')
CONFIGS = sorted(
    osp.relpath(p, REPO) for method in ('era', 'fitnet', 'pkd')
    for family in FAMILIES
    for p in glob.glob(osp.join(REPO, 'configs', method,
                                f'{method}_{family}_*_coco.py'))
    # the mmpretrain ConvNeXt teacher: test_convnext_teacher_configs.py
    if 'convnext' not in osp.basename(p))
#: the method whose exported student is checked against stock mmdet, per pair
EXPORT_METHOD = {'gfl': 'era', 'atss': 'pkd', 'fcos': 'era',
                 'rtmdet_s-tiny': 'fitnet', 'rtmdet_l-m': 'era'}


def test_the_matrix_is_complete():
    # 5 pairs (RTMDet twice) x 3 methods
    assert len(CONFIGS) == 15, CONFIGS


@pytest.fixture(scope='module')
def teacher_ckpts(tmp_path_factory):
    """A random-weight checkpoint per teacher config, written once."""
    register_all_modules()
    return teacher_ckpt_writer(tmp_path_factory)


def _calibrate_bn(detector, batch):
    """Sets every BN's running statistics to those of ``batch``."""
    norms = [m for m in detector.modules()
             if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative: one batch gives its statistics
    detector.train()
    with torch.no_grad():
        detector.extract_feat(batch['inputs'])
        if hasattr(detector, 'bbox_head'):
            detector.bbox_head(detector.extract_feat(batch['inputs']))
    for norm in norms:
        norm.momentum = 0.1


def _pair_of(config):
    name = osp.basename(config)
    for family in FAMILIES:
        if f'_{family}_' in name:
            if family == 'rtmdet':
                return 'rtmdet_' + name.split('_')[2]
            return family
    raise AssertionError(name)


@pytest.mark.parametrize('config', CONFIGS)
def test_config_trains_a_stepoffline(config, teacher_ckpts, tmp_path):
    cfg = Config.fromfile(osp.join(REPO, config))
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.student = offline(model_cfg.student)
    model_cfg.teacher_ckpt = teacher_ckpts(model_cfg.teacher_config)
    torch.manual_seed(0)
    model = MODELS.build(model_cfg)
    model.init_weights()  # loads the teacher checkpoint strictly
    teacher_before = {k: v.clone()
                      for k, v in model.teacher.state_dict().items()}
    student_before = {k: v.clone()
                      for k, v in model.student.state_dict().items()}
    params = [p for p in model.parameters() if p.requires_grad]
    optim = OptimWrapper(torch.optim.SGD(params, lr=1e-3))
    model.train()
    log_vars = model.train_step(coco_batch(), optim)
    assert torch.isfinite(log_vars['loss'])
    method = osp.basename(config).split('_')[0].split('-')[0]
    assert any(k.startswith(f'{method}.loss') for k in log_vars), log_vars
    after = model.teacher.state_dict()
    assert all(torch.equal(v, after[k]) for k, v in teacher_before.items())
    student_after = model.student.state_dict()
    assert any(not torch.equal(v, student_after[k])
               for k, v in student_before.items())
    assert all(torch.isfinite(v).all() for v in student_after.values()
               if v.is_floating_point())

    pair = _pair_of(config)
    if EXPORT_METHOD[pair] != method:
        return
    # the exported student is a stock mmdet detector predicting the same;
    # first BN statistics of real activations (random weights through
    # default statistics overflow deep CSPNeXt nets in eval mode)
    _calibrate_bn(model.student, model.data_preprocessor(coco_batch(), True))
    out = str(tmp_path / 'student.pth')
    export_student_checkpoint(dict(state_dict=model.state_dict()), out)
    stock = MODELS.build(offline(cfg.model.student))
    load_checkpoint(stock, out, map_location='cpu', strict=True)
    stock.eval()
    model.eval()
    data = coco_batch(seed=1)
    with torch.no_grad():
        got = model.test_step(copy.deepcopy(data))
        want = stock.test_step(copy.deepcopy(data))
        batch = model.data_preprocessor(copy.deepcopy(data), False)['inputs']
        raw_got = model._forward(batch)
        raw_want = stock._forward(batch)
    for g, w in zip(raw_got, raw_want):  # bit-identical raw outputs
        for a, b in zip(g, w):
            # NaN would compare unequal; an inf is a real value here: RTMDet-m
            # and -l exponentiate their random regression outputs
            assert not torch.isnan(a).any()
            assert torch.equal(a, b)
    for g, w in zip(got, want):
        # a freshly initialised RTMDet regresses zero-size boxes, which its
        # post-processing drops; the raw outputs above are compared anyway
        assert len(g.pred_instances) > 0 or pair.startswith('rtmdet')
        for key in ('bboxes', 'scores', 'labels'):
            assert torch.equal(g.pred_instances[key], w.pred_instances[key])
