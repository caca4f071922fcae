"""ResKD through the real tools: train 4 iterations (both res-students join),
test without the teacher checkpoint, export the base student to stock mmdet,
the FLOPs tool and its importable cost function; the COCO config."""
import importlib
import json
import os.path as osp
import re
import sys

import pytest
import torch
from cli_helpers import REPO_ROOT, TOOLS, run_tool
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

import mmera  # noqa: F401  (lets torch.load read mmengine checkpoints)
from mmera.models import load_model_config

STUDENT_CFG = osp.join(REPO_ROOT, 'configs', 'tiny',
                       'retinanet_r18w16_fpn_500it_synthetic.py')
COST_TOOL = 'benchmarks/reskd_cost.py'  # argv[0] of the in-process CLI
TEST_CFG = dict(score_thr=0.0, nms_pre=100, max_per_img=20)


@pytest.fixture(scope='module', autouse=True)
def _single_threaded():
    """The in-process models here are small: one thread is faster than two
    and robust on a busy machine (subprocesses are unaffected)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _cost_module():
    return importlib.import_module('benchmarks.reskd_cost')


@pytest.fixture(scope='module')
def reskd_run(make_tiny_config, tiny_teacher_ckpt, tmp_path_factory):
    """The shipped synthetic config trained 4 iterations; R_1 joins at
    iteration 0 (the first), R_2 at iteration 2 (the third)."""
    config = make_tiny_config(
        'configs/reskd/reskd_retinanet_r34w32-r18w16_fpn_500it_synthetic.py',
        f"""
        model = dict(teacher_ckpt={tiny_teacher_ckpt!r},
                     res_student_start_iters=[0, 2],
                     student=dict(test_cfg={TEST_CFG!r}))
        custom_hooks = [
            dict(type='DistillLossWarmupHook', warmup_iters=4),
            dict(type='ExportStudentHook'),
        ]
        """, val_interval=1000)  # tools/test.py validates below
    work = tmp_path_factory.mktemp('reskd_work')
    proc = run_tool([osp.join(TOOLS, 'train.py'), config, '--work-dir',
                     str(work)], cwd=work)
    return config, work, proc.stdout + proc.stderr


def test_reskd_trains_with_the_join_schedule(reskd_run):
    _, work, log = reskd_run
    for name in ('loss_cls', 'loss_bbox', 'reskd.loss_mimic',
                 'reskd.loss_res1', 'reskd.loss_res2', 'reskd.loss_cls_f1',
                 'reskd.loss_cls_f2'):
        assert f' {name}: ' in log, name
    res1 = [float(v) for v in re.findall(r'reskd\.loss_res1: (\S+)', log)]
    res2 = [float(v) for v in re.findall(r'reskd\.loss_res2: (\S+)', log)]
    cls2 = [float(v) for v in re.findall(r'reskd\.loss_cls_f2: (\S+)', log)]
    assert len(res1) == len(res2) == 4
    assert all(v > 0 for v in res1)
    # R_2 joins at the third iteration: neither run nor trained before
    assert res2[:2] == [0.0, 0.0] and all(v > 0 for v in res2[2:])
    assert cls2[:2] == [0.0, 0.0] and all(v > 0 for v in cls2[2:])
    ckpt = torch.load(work / 'iter_4.pth', map_location='cpu')
    assert {k.split('.')[0] for k in ckpt['state_dict']} == {
        'student', 'res_students'}
    # R_2 trained for two iterations: its zero-initialised output moved
    out_conv = ckpt['state_dict']['res_students.1.out_convs.0.weight']
    assert out_conv.abs().sum() > 0


def test_reskd_test_without_teacher_and_export(reskd_run, synthetic_root,
                                               tmp_path):
    config, work, _ = reskd_run
    # tools/test.py on the distiller checkpoint (sample-adaptive, the
    # config's mode) needs no teacher checkpoint
    proc = run_tool([
        osp.join(TOOLS, 'test.py'), config, str(work / 'iter_4.pth'),
        '--work-dir', str(tmp_path / 'test'), '--cfg-options',
        'model.teacher_ckpt=/nonexistent/teacher.pth'
    ], cwd=tmp_path)
    assert re.search(r'coco/bbox_mAP: \d', proc.stdout + proc.stderr)

    # the base student: tools/export_student.py and the hook agree, and it
    # loads strictly into the stock student config
    out = tmp_path / 'student.pth'
    run_tool([osp.join(TOOLS, 'export_student.py'), config,
              str(work / 'iter_4.pth'), str(out)], cwd=tmp_path)
    exported = torch.load(out, map_location='cpu')['state_dict']
    hooked = torch.load(work / 'student_final.pth',
                        map_location='cpu')['state_dict']
    assert exported.keys() == hooked.keys()
    assert all(torch.equal(exported[k], hooked[k]) for k in exported)
    init_default_scope('mmdet')
    stock_cfg = Config.fromfile(STUDENT_CFG)
    stock_cfg.model.test_cfg.update(TEST_CFG)
    stock = MODELS.build(stock_cfg.model)
    stock.load_state_dict(exported, strict=True)

    # it predicts what the distiller predicts with every res-student skipped
    cfg = Config.fromfile(config)
    cfg.model.teacher_ckpt = None
    distiller = MODELS.build(cfg.model)
    distiller.load_state_dict(
        torch.load(work / 'iter_4.pth', map_location='cpu')['state_dict'])
    distiller.set_inference_mode('none')
    from mmdet.apis import inference_detector
    stock.cfg = distiller.cfg = stock_cfg  # only the test pipeline is read
    stock.eval()
    distiller.eval()
    img = osp.join(synthetic_root, 'val', '000000.png')
    a = inference_detector(stock, img).pred_instances
    b = inference_detector(distiller, img).pred_instances
    assert len(a) > 0
    assert torch.allclose(a.bboxes, b.bboxes) and torch.equal(a.labels,
                                                              b.labels)
    assert torch.allclose(a.scores, b.scores)
    # with the res-students the predictions differ
    distiller.set_inference_mode('all')
    c = inference_detector(distiller, img).pred_instances
    assert distiller.last_depths == [2]
    assert not torch.allclose(a.scores[:5], c.scores[:5])


def test_reskd_cost_tool_on_the_val_set(reskd_run, tmp_path, monkeypatch,
                                       capsys):
    config, work, _ = reskd_run
    cost = _cost_module()
    out = tmp_path / 'cost.json'
    # the CLI's main, in this process (the tools above already ran as
    # subprocesses): thresholds 0 and 1 from one pass over the val set
    monkeypatch.setattr(sys, 'argv', [
        COST_TOOL, config, str(work / 'iter_4.pth'), '--val', '--shape',
        '160', '160', '--thr', '0.0', '1.0', '--out', str(out)])
    cost.main()
    assert 'adaptive thr=0.0' in capsys.readouterr().out
    report = json.loads(out.read_text())
    low, high = report['thresholds']['0.0'], report['thresholds']['1.0']
    assert low['depth_histogram'] == [4, 0, 0]  # 4 val images, all stop
    assert high['depth_histogram'] == [0, 0, 4]  # none reaches p = 1
    assert low['adaptive'] == low['none'] < low['all']
    # depth 2 re-runs the head twice: dearer than 'all'
    assert high['adaptive'] == high['per_depth'][2] > high['all']

    for argv, message in (
        ([config, '--val'], '--val needs a CHECKPOINT'),
        ([STUDENT_CFG], 'is not a ResKD config'),
        ([osp.join(REPO_ROOT, 'configs', 'reskd',
                   'reskd_retinanet_r101-r50_fpn_1x_coco.py')],
         'give the input size'),
    ):
        monkeypatch.setattr(sys, 'argv', [COST_TOOL] + argv)
        with pytest.raises(SystemExit, match=message):
            cost.main()


def test_flops_per_image_accounting():
    from mmera.analysis import flops as cost
    init_default_scope('mmdet')
    student = load_model_config(STUDENT_CFG)
    teacher = load_model_config(osp.join(
        REPO_ROOT, 'configs', 'tiny',
        'retinanet_r34w32_fpn_500it_synthetic.py'))
    model = MODELS.build(dict(type='ResKDDistiller', student=student,
                              teacher_config=teacher,
                              res_student_start_iters=[0, 0]))
    mixed = cost.reskd_flops_per_image(model, [0, 1, 2, 2], (64, 64))
    base, head, res = mixed['base'], mixed['head'], mixed['res_students']
    assert min(base, head, *res) > 0 and len(res) == 2
    assert res[0] < base  # "much lighter"
    per_depth = [base + head, base + 2 * head + res[0],
                 base + 3 * head + res[0] + res[1]]
    assert mixed['per_depth'] == per_depth
    assert mixed['adaptive'] == pytest.approx(
        (per_depth[0] + per_depth[1] + 2 * per_depth[2]) / 4)
    assert mixed['mean_depth'] == 1.25
    assert mixed['depth_histogram'] == [1, 1, 2]
    assert mixed['all'] == base + head + sum(res)
    # every image at depth 0: the student's cost, below all res-students
    none = cost.flops_for_depths(mixed, [0, 0, 0])
    assert none['adaptive'] == none['none'] == base + head < none['all']
    with pytest.raises(ValueError, match='values in 0..2'):
        cost.flops_for_depths(mixed, [0, 3])
    # the adaptive rule on hand-made confidences: first depth >= thr
    confs = torch.tensor([[0.9, 0.1, 0.1], [0.2, 0.6, 0.9], [0.1, 0.2, 0.3],
                          [0.5, 0.7, 0.2]])
    assert cost.depths_for_threshold(confs, 0.5) == [0, 1, 2, 0]
    assert cost.depths_for_threshold(confs, 0.95) == [2, 2, 2, 2]


def test_coco_reskd_config_trains_one_step(tmp_path):
    init_default_scope('mmdet')
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', 'reskd',
                                   'reskd_retinanet_r101-r50_fpn_1x_coco.py'))
    assert cfg.model.type == 'ResKDDistiller'
    assert cfg.model.teacher_ckpt.startswith('https://download.openmmlab')
    assert cfg.model.student.backbone.depth == 50
    assert cfg.model_wrapper_cfg.find_unused_parameters
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
    cfg.model.res_student_start_iters = [0, 0]
    model = MODELS.build(cfg.model)
    model.init_weights()
    assert [len(r.out_convs) for r in model.res_students] == [5, 5]
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    # one image: the check is shapes, losses and gradients
    sample = DetDataSample(metainfo=dict(
        img_shape=(128, 160), ori_shape=(128, 160), scale_factor=(1., 1.)))
    sample.gt_instances = InstanceData(
        bboxes=torch.tensor([[10., 12., 70., 90.], [60., 30., 150., 120.]]),
        labels=torch.tensor([0, 79]))
    data = dict(
        inputs=[torch.randint(0, 255, (3, 128, 160), dtype=torch.uint8)],
        data_samples=[sample])
    before = model.res_students[1].out_convs[0].weight.detach().clone()
    model.train()
    log_vars = model.train_step(data, optim)
    for key in ('loss_cls', 'reskd.loss_mimic', 'reskd.loss_res1',
                'reskd.loss_res2', 'reskd.loss_cls_f2'):
        assert torch.isfinite(log_vars[key]), key
    assert not torch.equal(before, model.res_students[1].out_convs[0].weight)


@pytest.mark.parametrize('name', [
    'reskd_retinanet_r34w32-r18w16_fpn_500it_synthetic.py',
    'reskd_retinanet_mnv2-r18w16_fpn_500it_deepforest.py'])
def test_tiny_reskd_configs_fit_student_and_teacher(name):
    init_default_scope('mmdet')
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', 'reskd', name))
    assert cfg.model_wrapper_cfg.find_unused_parameters
    assert cfg.model.res_student_start_iters == [150, 300]
    model = MODELS.build(cfg.model)  # random weights, nothing loaded
    x = torch.randn(1, 3, 128, 128)
    with torch.no_grad():
        student = list(model.student.extract_feat(x))
        model.check_feature_shapes(student, model.teacher.extract_feat(x))
        for i in range(2):
            assert [r.shape for r in model.res_student_features(
                i, x, student)] == [s.shape for s in student]
