"""tools/dist_train.sh runs 2 processes on a CPU-only machine (gloo)."""
import os
import os.path as osp
import socket
import subprocess
import sys

import torch

import mmera  # noqa: F401  (lets torch.load read mmengine checkpoints)
from cli_helpers import TOOLS


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_two_process_training_on_cpu(tiny_student_config, tmp_path):
    work_dir = tmp_path / 'dist'
    env = dict(os.environ, PYTHON=sys.executable, PORT=str(_free_port()),
               OMP_NUM_THREADS='1')
    proc = subprocess.run([
        'bash', osp.join(TOOLS, 'dist_train.sh'), tiny_student_config, '2',
        '--work-dir', str(work_dir), '--cfg-options', 'train_cfg.max_iters=2'
    ], cwd=str(tmp_path), env=env, capture_output=True, text=True,
                          timeout=300)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    assert 'Distributed training: True' in log
    assert 'Iter(train) [2/2]' in log
    ckpt = torch.load(work_dir / 'iter_2.pth', map_location='cpu')
    assert ckpt['meta']['iter'] == 2
    # rank 0 alone writes checkpoints: one file per saving iteration
    assert sorted(p.name for p in work_dir.glob('*.pth')) == ['iter_2.pth']


def test_two_process_era_training_on_cpu(tiny_era_config, tmp_path):
    """ERA under DDP: no unused parameters (find_unused_parameters stays
    False), the alpha sweep and the student export run on 2 ranks."""
    work_dir = tmp_path / 'dist_era'
    env = dict(os.environ, PYTHON=sys.executable, PORT=str(_free_port()),
               OMP_NUM_THREADS='1')
    proc = subprocess.run([
        'bash', osp.join(TOOLS, 'dist_train.sh'), tiny_era_config, '2',
        '--work-dir', str(work_dir)
    ], cwd=str(tmp_path), env=env, capture_output=True, text=True,
                          timeout=300)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    assert 'Iter(train) [4/4]' in log and 'era.loss_twi' in log
    assert 'ST-mode sweep' in log
    ckpt = torch.load(work_dir / 'iter_4.pth', map_location='cpu')
    assert {k.split('.')[0] for k in ckpt['state_dict']} == {
        'student', 'mbrnet', 'twi'}
    assert (work_dir / 'student_final.pth').is_file()
