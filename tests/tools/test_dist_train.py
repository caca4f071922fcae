"""tools/dist_train.sh: distillers train under 2 processes on a CPU-only
machine (gloo), as DDP should: each rank steps on its own data, the frozen
teacher stays identical to its checkpoint on both ranks, the student stays in
sync, and rank 0 alone writes checkpoints.

What each rank saw is recorded by a test-only hook (written below to the test's
temporary directory and loaded through ``custom_imports``); one run per method
serves all the assertions.
"""
import hashlib
import inspect
import json
import math
import os
import os.path as osp
import socket
import subprocess
import sys
import textwrap

import mmdet
import pytest
import torch
from cli_helpers import TOOLS

import mmera  # noqa: F401  (lets torch.load read mmengine checkpoints)


def digest(named_tensors) -> str:
    """SHA-256 of (name, tensor bytes) pairs, in order."""
    sha = hashlib.sha256()
    for name, value in named_tensors:
        sha.update(name.encode())
        sha.update(value.detach().cpu().contiguous().numpy().tobytes())
    return sha.hexdigest()


PROBE = '''
"""Test-only hook: records what this rank saw (tests/tools/test_dist_train)."""
import hashlib
import json
import os.path as osp

from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmdet.registry import HOOKS

''' + inspect.getsource(digest) + '''


@HOOKS.register_module()
class RankProbeHook(Hook):
    def __init__(self):
        self.losses, self.saves = [], 0

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        self.losses.append({k: float(v) for k, v in outputs.items()})

    def before_save_checkpoint(self, runner, checkpoint):
        self.saves += 1

    def after_train(self, runner):
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        teacher = model.teacher
        params = list(model.student.named_parameters())
        report = dict(
            wrapper=type(runner.model).__name__,
            find_unused_parameters=getattr(runner.model,
                                           'find_unused_parameters', None),
            losses=self.losses, saves=self.saves,
            teacher=digest(teacher.state_dict().items()),
            teacher_training=teacher.training,
            teacher_requires_grad=any(
                p.requires_grad for p in teacher.parameters()),
            student_param_names=[name for name, _ in params],
            student_params=digest(params))
        path = osp.join(runner.work_dir, f'probe_rank{get_rank()}.json')
        with open(path, 'w') as f:
            json.dump(report, f)
'''

# The hooks of the tiny ERA config, plus the probe.
ERA_EXTRA = """
custom_imports = dict(imports=['mmera', 'rank_probe'],
                      allow_failed_imports=False)
custom_hooks = [
    dict(type='DistillLossWarmupHook', warmup_iters=4),
    dict(type='AlphaSweepHook', alphas=[0.0, 1.0]),
    dict(type='ExportStudentHook'),
    dict(type='RankProbeHook'),
]
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _dist_train(config, work_dir, probe_dir, mmdet_script=False):
    """Runs dist_train.sh (or torchrun on mmdet's own packaged train script)
    with 2 processes; returns the log and the reports of rank 0 and 1."""
    port = str(_free_port())
    env = dict(os.environ, PYTHON=sys.executable, PORT=port,
               OMP_NUM_THREADS='1', GLOO_SOCKET_IFNAME='lo',
               PYTHONPATH=os.pathsep.join(
                   [str(probe_dir)] + [p for p in [os.environ.get(
                       'PYTHONPATH')] if p]))
    if mmdet_script:
        script = osp.join(osp.dirname(mmdet.__file__), '.mim', 'tools',
                          'train.py')
        cmd = [sys.executable, '-m', 'torch.distributed.run',
               '--nproc_per_node=2', f'--master_port={port}', script, config,
               '--launcher', 'pytorch']
    else:
        cmd = ['bash', osp.join(TOOLS, 'dist_train.sh'), config, '2']
    proc = subprocess.run(cmd + ['--work-dir', str(work_dir)],
                          cwd=str(work_dir.parent), env=env,
                          capture_output=True, text=True, timeout=300)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    reports = [json.loads((work_dir / f'probe_rank{r}.json').read_text())
               for r in (0, 1)]
    return log, reports


def _write_probe(tmp_path):
    probe_dir = tmp_path / 'probe'
    probe_dir.mkdir()
    (probe_dir / 'rank_probe.py').write_text(PROBE)
    return probe_dir


def _check_ranks(reports, teacher_ckpt, final_ckpt, num_iters=4,
                 find_unused=False):
    """The assertions shared by every distiller's 2-process run."""
    rank0, rank1 = reports
    for report in reports:
        assert report['wrapper'] == 'MMDistributedDataParallel'
        # False: every parameter gets a gradient, DDP needs no
        # unused-parameter search (it would fail at the second step
        # otherwise); True only where the config asks for it (ResKD)
        assert report['find_unused_parameters'] is find_unused
        # both ranks stepped, with finite losses
        assert len(report['losses']) == num_iters
        assert all(math.isfinite(v) for step in report['losses']
                   for v in step.values())
        # the teacher: frozen, in eval mode, and unchanged
        assert not report['teacher_requires_grad']
        assert not report['teacher_training']
    # each rank trained on its own half of the data ...
    assert rank0['losses'][0]['loss'] != rank1['losses'][0]['loss']
    # ... yet the teacher is identical on both ranks and to its checkpoint
    teacher_state = torch.load(teacher_ckpt, map_location='cpu')['state_dict']
    assert rank0['teacher'] == rank1['teacher'] == digest(
        teacher_state.items())
    # the student's weights stayed in sync (gradients averaged) and are the
    # ones rank 0 saved
    state = final_ckpt['state_dict']
    assert rank0['student_params'] == rank1['student_params'] == digest(
        (n, state[f'student.{n}']) for n in rank0['student_param_names'])
    # rank 0 alone wrote the checkpoints
    assert rank0['saves'] == num_iters // 2 and rank1['saves'] == 0


@pytest.mark.parametrize('mmdet_script', [False, True],
                         ids=['mmera_dist_train', 'mmdet_train_script'])
def test_two_process_era_training_on_cpu(mmdet_script, tiny_era_config,
                                         tiny_teacher_ckpt, tmp_path):
    """ERA under DDP: no unused parameters (find_unused_parameters stays
    False), the alpha sweep and the student export run on 2 ranks; the same
    through mmdet's own train script (the config declares mmera's runner,
    whose start-up makes CPU-only DDP work)."""
    probe_dir = _write_probe(tmp_path)
    config = tmp_path / 'era_probe.py'
    config.write_text(f'_base_ = {tiny_era_config!r}\n' + ERA_EXTRA)
    work_dir = tmp_path / 'dist_era'
    log, reports = _dist_train(str(config), work_dir, probe_dir, mmdet_script)

    assert 'Distributed training: True' in log
    assert 'Iter(train) [4/4]' in log and 'era.loss_twi' in log
    assert 'ST-mode sweep' in log
    # one file per saving iteration, complete (no temporary file left)
    assert sorted(p.name for p in work_dir.iterdir() if p.is_file()) == [
        'alpha_sweep.json', 'era_probe.py', 'iter_2.pth', 'iter_4.pth',
        'last_checkpoint', 'probe_rank0.json', 'probe_rank1.json',
        'student_final.pth']
    ckpt = torch.load(work_dir / 'iter_4.pth', map_location='cpu')
    assert ckpt['meta']['iter'] == 4
    assert {k.split('.')[0] for k in ckpt['state_dict']} == {
        'student', 'mbrnet', 'twi'}
    # both ranks' RNG states are saved, for an exact resume
    assert len(ckpt['rng_state']['ranks']) == 2
    _check_ranks(reports, tiny_teacher_ckpt, ckpt)


def test_two_process_fitnet_training_on_cpu(make_tiny_config,
                                            tiny_teacher_ckpt, tmp_path):
    """A baseline (FitNet hints through 1x1 adapters) under DDP."""
    probe_dir = _write_probe(tmp_path)
    config = make_tiny_config(
        'configs/fitnet/fitnet_retinanet_r34w32-r18w16_fpn_500it_synthetic.py',
        f'model = dict(teacher_ckpt={tiny_teacher_ckpt!r})\n' +
        textwrap.dedent("""
        custom_imports = dict(imports=['mmera', 'rank_probe'],
                              allow_failed_imports=False)
        custom_hooks = [dict(type='DistillLossWarmupHook', warmup_iters=4),
                        dict(type='RankProbeHook')]
        val_cfg = None
        val_dataloader = None
        val_evaluator = None
        """))
    work_dir = tmp_path / 'dist_fitnet'
    log, reports = _dist_train(config, work_dir, probe_dir)

    assert 'Iter(train) [4/4]' in log and 'fitnet.loss_feat' in log
    assert sorted(p.name for p in work_dir.glob('*.pth')) == [
        'iter_2.pth', 'iter_4.pth']
    ckpt = torch.load(work_dir / 'iter_4.pth', map_location='cpu')
    _check_ranks(reports, tiny_teacher_ckpt, ckpt)


def test_two_process_reskd_training_across_a_join(make_tiny_config,
                                                  tiny_teacher_ckpt,
                                                  tmp_path):
    """ResKD under DDP, with the second res-student joining mid-run: the
    not-yet-joined one has no gradient for two steps (the configs set
    find_unused_parameters=True for it), then trains on both ranks."""
    probe_dir = _write_probe(tmp_path)
    config = make_tiny_config(
        'configs/reskd/reskd_retinanet_r34w32-r18w16_fpn_500it_synthetic.py',
        f'model = dict(teacher_ckpt={tiny_teacher_ckpt!r}, '
        'res_student_start_iters=[0, 2])\n' + textwrap.dedent("""
        custom_imports = dict(imports=['mmera', 'rank_probe'],
                              allow_failed_imports=False)
        custom_hooks = [dict(type='RankProbeHook')]
        val_cfg = None
        val_dataloader = None
        val_evaluator = None
        """))
    work_dir = tmp_path / 'dist_reskd'
    log, reports = _dist_train(config, work_dir, probe_dir)

    assert 'Iter(train) [4/4]' in log and 'reskd.loss_res2' in log
    ckpt = torch.load(work_dir / 'iter_4.pth', map_location='cpu')
    _check_ranks(reports, tiny_teacher_ckpt, ckpt, find_unused=True)
    # R_2 joined at iteration 2 and trained from there: its weights moved
    # away from the (zero) output init it had at iteration 2
    before = torch.load(work_dir / 'iter_2.pth', map_location='cpu')
    moved = [k for k, v in ckpt['state_dict'].items()
             if k.startswith('res_students.1.')
             and not torch.equal(v, before['state_dict'][k])]
    assert moved
