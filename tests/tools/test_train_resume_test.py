"""tools/train.py trains, saves, resumes; tools/test.py reports COCO bbox mAP.

Everything runs the real CLI in a subprocess, from a directory outside the
repository, on a tiny RetinaNet and the tiny synthetic set.
"""
import json
import os.path as osp
import re

import torch
from cli_helpers import TOOLS, run_tool

import mmera  # noqa: F401  (lets torch.load read mmengine checkpoints)

TRAIN = osp.join(TOOLS, 'train.py')
TEST = osp.join(TOOLS, 'test.py')


def test_train_resume_then_test(tiny_student_config, tmp_path):
    work_dir = tmp_path / 'work'
    run_tool([TRAIN, tiny_student_config, '--work-dir', str(work_dir)],
             cwd=tmp_path)
    assert (work_dir / 'iter_2.pth').is_file()
    assert (work_dir / 'iter_4.pth').is_file()
    first = torch.load(work_dir / 'iter_4.pth', map_location='cpu')
    assert first['meta']['iter'] == 4

    # --resume without a path picks the latest checkpoint in the work dir and
    # continues from iteration 5; the checkpoint loads under weights_only=True
    proc = run_tool([
        TRAIN, tiny_student_config, '--work-dir', str(work_dir), '--resume',
        '--cfg-options', 'train_cfg.max_iters=6'
    ], cwd=tmp_path)
    log = proc.stdout + proc.stderr
    assert 'resumed epoch: 0, iter: 4' in log, log[-3000:]
    iters = [int(m) for m in re.findall(r'Iter\(train\) \[\s*(\d+)/6\]', log)]
    assert iters == [5, 6], iters
    resumed = torch.load(work_dir / 'iter_6.pth', map_location='cpu')
    assert resumed['meta']['iter'] == 6
    # the resumed run trained on: weights moved on from the resume point
    key = 'bbox_head.retina_cls.weight'
    assert not torch.equal(first['state_dict'][key],
                           resumed['state_dict'][key])
    # optimizer state came along (AdamW step counts kept growing)
    step = next(iter(resumed['optimizer']['state'].values()))['step']
    assert int(step) == 6

    # tools/test.py evaluates the checkpoint with CocoMetric
    test_dir = tmp_path / 'test'
    proc = run_tool([
        TEST, tiny_student_config,
        str(work_dir / 'iter_6.pth'), '--work-dir',
        str(test_dir)
    ], cwd=tmp_path)
    log = proc.stdout + proc.stderr
    assert re.search(r'coco/bbox_mAP: -?\d+\.\d+', log), log[-3000:]
    metrics_files = list(test_dir.glob('*/*.json'))
    assert metrics_files, list(test_dir.rglob('*'))
    metrics = json.loads(metrics_files[0].read_text())
    assert 0.0 <= metrics['coco/bbox_mAP'] <= 1.0
    assert 'coco/bbox_mAP_50' in metrics


def test_explicit_resume_path_and_missing_files(tiny_student_config,
                                                tmp_path):
    proc = run_tool([TRAIN, tiny_student_config, '--resume',
                     str(tmp_path / 'nope.pth')], cwd=tmp_path, check=False)
    assert proc.returncode != 0
    assert 'checkpoint to resume from not found' in proc.stderr

    proc = run_tool([TEST, tiny_student_config,
                     str(tmp_path / 'missing.pth')], cwd=tmp_path,
                    check=False)
    assert proc.returncode != 0
    assert 'checkpoint not found' in proc.stderr

    proc = run_tool([TRAIN, str(tmp_path / 'no_such_config.py')],
                    cwd=tmp_path, check=False)
    assert proc.returncode != 0
    # mmengine's own message, as through mmdet's script: it names the path
    assert 'No such file or directory' in proc.stderr
    assert 'no_such_config.py' in proc.stderr


def test_amp_on_cpu_trains_in_bfloat16(tiny_student_config, tmp_path):
    work_dir = tmp_path / 'amp'
    proc = run_tool([
        TRAIN, tiny_student_config, '--work-dir', str(work_dir), '--amp',
        '--cfg-options', 'train_cfg.max_iters=2'
    ], cwd=tmp_path)
    log = proc.stdout + proc.stderr
    assert 'replaced by CPUAmpOptimWrapper' in log or torch.cuda.is_available()
    losses = [float(v) for v in re.findall(r' loss: (\S+)', log)]
    assert len(losses) == 2 and all(torch.isfinite(torch.tensor(losses)))
    ckpt = torch.load(work_dir / 'iter_2.pth', map_location='cpu')
    # master weights stay float32 under autocast
    assert ckpt['state_dict']['bbox_head.retina_cls.weight'].dtype == \
        torch.float32
