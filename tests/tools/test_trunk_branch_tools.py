"""Trunk-to-Branch through the real tools: train the synthetic config (no
teacher), export the student and load it in stock mmdet; the COCO config
trains a step."""
import copy
import os.path as osp

import pytest
import torch
from cli_helpers import REPO_ROOT, TOOLS, run_tool
from mmdet.apis import inference_detector
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmengine.config import Config
from mmengine.hub import get_config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

import mmera  # noqa: F401  (lets torch.load read mmengine checkpoints)

STUDENT_CFG = osp.join(REPO_ROOT, 'configs', 'tiny',
                       'retinanet_r18w16_fpn_500it_synthetic.py')
TEST_CFG = dict(score_thr=0.0, nms_pre=100, max_per_img=20)


def test_trunk_branch_train_export_stock_load(make_tiny_config,
                                              synthetic_root, tmp_path,
                                              monkeypatch):
    # one thread per process: faster for the tiny model on a busy machine
    monkeypatch.setenv('OMP_NUM_THREADS', '1')
    config = make_tiny_config(
        'configs/trunk_branch/trunk-branch_retinanet_r18w16_fpn_500it_synthetic.py',
        f'model = dict(student=dict(test_cfg={TEST_CFG!r}))\n')
    work = tmp_path / 'tb'
    proc = run_tool([osp.join(TOOLS, 'train.py'), config, '--work-dir',
                     str(work)], cwd=tmp_path)
    log = proc.stdout + proc.stderr
    for name in ('loss_cls', 'loss_bbox', 'tb.loss_branch_cls',
                 'tb.loss_branch_bbox', 'tb.loss_ens_cls', 'tb.loss_ens_bbox',
                 'tb.loss_decor'):
        assert f' {name}: ' in log, name
    assert 'coco/bbox_mAP: ' in log  # validation ran the deployed path

    ckpt = torch.load(work / 'iter_4.pth', map_location='cpu')
    state = ckpt['state_dict']
    assert {k.split('.')[0] for k in state} == {'student', 'branches'}
    init = torch.load(work / 'iter_2.pth', map_location='cpu')['state_dict']
    # 4 iterations trained both the trunk and the branches
    for key in ('student.backbone.conv1.weight',
                'student.bbox_head.retina_cls.weight',
                'branches.branches.0.weight'):
        assert not torch.equal(state[key], init[key]), key

    out = tmp_path / 'student.pth'
    run_tool([osp.join(TOOLS, 'export_student.py'), config,
              str(work / 'iter_4.pth'), str(out)], cwd=tmp_path)
    exported = torch.load(out, map_location='cpu')['state_dict']
    hooked = torch.load(work / 'student_final.pth',
                        map_location='cpu')['state_dict']
    assert exported.keys() == hooked.keys()
    assert all(torch.equal(exported[k], hooked[k]) for k in exported)
    assert not any('branches' in k for k in exported)
    assert len(exported) == sum(k.startswith('student.') for k in state)

    init_default_scope('mmdet')
    stock_cfg = Config.fromfile(STUDENT_CFG)
    stock_cfg.model.test_cfg.update(TEST_CFG)
    stock = MODELS.build(stock_cfg.model)
    stock.load_state_dict(exported, strict=True)

    tb_cfg = Config.fromfile(config)
    distiller = MODELS.build(tb_cfg.model)
    distiller.load_state_dict(state)
    stock.eval()
    distiller.eval()
    stock.cfg = stock_cfg
    distiller.cfg = stock_cfg  # inference_detector reads only its pipeline
    img = osp.join(synthetic_root, 'val', '000000.png')
    a = inference_detector(stock, img).pred_instances
    b = inference_detector(distiller, img).pred_instances
    assert len(a) > 0
    for key in ('bboxes', 'scores', 'labels'):
        assert torch.equal(a[key], b[key]), key


@pytest.fixture
def single_thread():
    """Runs the R50 step on one thread (robust on a busy machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _coco_batch(num_classes: int):
    # small images keep the R50 step short on CPU (P7 is 1x1 at 64 px)
    inputs, samples = [], []
    for i in range(2):
        inputs.append(torch.randint(0, 255, (3, 64, 96), dtype=torch.uint8))
        sample = DetDataSample(metainfo=dict(
            img_shape=(64, 96), ori_shape=(64, 96), scale_factor=(1., 1.)))
        sample.gt_instances = InstanceData(
            bboxes=torch.tensor([[5., 6., 35., 45.], [30., 15., 90., 60.]]),
            labels=torch.tensor([i, num_classes - 1]))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def test_coco_trunk_branch_config_is_the_stock_r50_and_trains_one_step(
        single_thread):
    init_default_scope('mmdet')
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', 'trunk_branch',
                                   'trunk-branch_retinanet_r50_fpn_1x_coco.py'))
    stock = get_config('mmdet::retinanet/retinanet_r50_fpn_1x_coco.py')
    assert cfg.model.type == 'TrunkBranchDistiller'
    assert 'teacher_config' not in cfg.model
    student = cfg.model.student.to_dict()
    student.pop('_scope_', None)  # get_config adds the scope; same model
    assert student == stock.model.to_dict()
    assert dict(type='ExportStudentHook',
                filename='student_final.pth') in cfg.custom_hooks
    assert cfg.train_cfg.max_epochs == 12
    student = copy.deepcopy(cfg.model.student)
    student.backbone.init_cfg = None  # random weights: no download
    cfg.model.student = student
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    before = model.branches.branches[0].weight.detach().clone()
    model.train()
    log_vars = model.train_step(_coco_batch(80), optim)
    for key in ('loss_cls', 'loss_bbox', 'tb.loss_branch_cls',
                'tb.loss_ens_cls', 'tb.loss_ens_bbox', 'tb.loss_decor'):
        assert torch.isfinite(log_vars[key]), key
    assert not torch.equal(before, model.branches.branches[0].weight)
