"""FitNet and PKD through the real tools: train 4 iterations on the tiny
synthetic set, export the student and load it strictly into stock mmdet,
where it predicts what the distiller predicts."""
import os.path as osp
import re

import pytest
import torch
from cli_helpers import REPO_ROOT, TOOLS, run_tool
from mmdet.apis import inference_detector
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint

import mmera  # noqa: F401  (registers mmera's models)

STUDENT_CFG = osp.join(REPO_ROOT, 'configs', 'tiny',
                       'retinanet_r18w16_fpn_500it_synthetic.py')
TEST_CFG = dict(score_thr=0.0, nms_pre=100, max_per_img=20)

# Validation is not what these tests check: skip it to save time.
NO_VAL = 'val_cfg = None\nval_dataloader = None\nval_evaluator = None\n'


@pytest.fixture(autouse=True)
def _one_thread_tools(monkeypatch):
    """Runs the tools single-threaded: on a shared 2-core machine, OpenMP's
    2 threads make these tiny models over 10x slower (measured: ~5 s vs
    0.4 s per iteration). The same for this process's own models."""
    monkeypatch.setenv('OMP_NUM_THREADS', '1')
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _train(method, make_tiny_config, teacher_ckpt, tmp_path):
    """Runs tools/train.py for 4 iterations; returns (config, work dir)."""
    config = make_tiny_config(
        f'configs/{method}/{method}_retinanet_r34w32-r18w16_fpn_500it_synthetic.py',
        f'model = dict(teacher_ckpt={teacher_ckpt!r}, '
        f'student=dict(test_cfg={TEST_CFG!r}))\n' + NO_VAL)
    work = tmp_path / 'work'
    proc = run_tool([osp.join(TOOLS, 'train.py'), config, '--work-dir',
                     str(work)], cwd=tmp_path)
    log = proc.stdout + proc.stderr
    for name in ('loss_cls', 'loss_bbox', f'{method}.loss_feat'):
        assert f' {name}: ' in log, name
    feat = [float(v) for v in re.findall(rf'{method}\.loss_feat: (\S+)', log)]
    assert len(feat) == 4 and all(v > 0 for v in feat)
    return config, work


def _check_stock_student(student_ckpt, config, distiller_state, image):
    """The student checkpoint loads strictly into the stock student config
    and predicts exactly what the trained distiller predicts."""
    init_default_scope('mmdet')
    stock_cfg = Config.fromfile(STUDENT_CFG)
    stock_cfg.model.test_cfg.update(TEST_CFG)
    stock = MODELS.build(stock_cfg.model)
    load_checkpoint(stock, str(student_ckpt), map_location='cpu', strict=True)

    distiller_cfg = Config.fromfile(config)
    distiller_cfg.model.teacher_ckpt = None  # predicting needs no teacher
    distiller = MODELS.build(distiller_cfg.model)
    distiller.load_state_dict(distiller_state, strict=True)
    stock.cfg = distiller.cfg = stock_cfg  # for inference_detector's pipeline
    stock.eval()
    distiller.eval()
    a = inference_detector(stock, image).pred_instances
    b = inference_detector(distiller, image).pred_instances
    assert len(a) > 0
    assert torch.equal(a.labels, b.labels)
    assert torch.allclose(a.bboxes, b.bboxes)
    assert torch.allclose(a.scores, b.scores)


def test_fitnet_train_export_and_load_in_stock_mmdet(make_tiny_config,
                                                     tiny_teacher_ckpt,
                                                     synthetic_root,
                                                     tmp_path):
    config, work = _train('fitnet', make_tiny_config, tiny_teacher_ckpt,
                          tmp_path)
    # the distiller checkpoint: the student and the training-only regressor
    ckpt = torch.load(work / 'iter_4.pth', map_location='cpu')
    assert {k.split('.')[0] for k in ckpt['state_dict']} == {
        'student', 'adapter'}

    out = tmp_path / 'student.pth'
    run_tool([osp.join(TOOLS, 'export_student.py'), config,
              str(work / 'iter_4.pth'), str(out)], cwd=tmp_path)
    exported = torch.load(out, map_location='cpu')['state_dict']
    assert not any('adapter' in k for k in exported)
    # the same tensors as ExportStudentHook's file
    hooked = torch.load(work / 'student_final.pth',
                        map_location='cpu')['state_dict']
    assert exported.keys() == hooked.keys()
    assert all(torch.equal(exported[k], hooked[k]) for k in exported)

    _check_stock_student(out, config, ckpt['state_dict'],
                         osp.join(synthetic_root, 'val', '000000.png'))


def test_pkd_train_and_load_the_hook_export_in_stock_mmdet(
        make_tiny_config, tiny_teacher_ckpt, synthetic_root, tmp_path):
    # (tools/export_student.py writes the same file as the hook: see the
    # FitNet test; one subprocess less here keeps the file under 60 s)
    config, work = _train('pkd', make_tiny_config, tiny_teacher_ckpt, tmp_path)
    ckpt = torch.load(work / 'iter_4.pth', map_location='cpu')
    # no adapter: both FPNs are 64-channel
    assert {k.split('.')[0] for k in ckpt['state_dict']} == {'student'}
    _check_stock_student(work / 'student_final.pth', config,
                         ckpt['state_dict'],
                         osp.join(synthetic_root, 'val', '000001.png'))
