"""The shared trainer: a real ``tools/train.py`` run read back, and the
reuse of finished runs (faked subprocesses)."""
import json
import os
import os.path as osp
import sys

import pytest

from mmera.runs import training
from mmera.runs.paths import TRAIN_TOOL
from mmera.runs.training import (DONE_MARKER, final_metrics, finished_run,
                                 last_checkpoint, run_seconds, train,
                                 train_command, val_history)


@pytest.fixture(scope='module')
def student_run(tiny_student_config, tmp_path_factory):
    """The tiny student trained 2 iterations (then validated) by train()."""
    work = str(tmp_path_factory.mktemp('runs') / 'student')
    options = ['train_cfg.max_iters=2']
    train(tiny_student_config, work, options, 'student')
    return tiny_student_config, work, options


def test_a_finished_run_is_read_back(student_run):
    config, work, options = student_run
    marker = finished_run(work, train_command(config, work, options))
    assert marker['cmd'] == [TRAIN_TOOL, config, '--work-dir', work,
                             '--cfg-options', 'train_cfg.max_iters=2']
    assert run_seconds(work) == marker['seconds'] > 0
    assert last_checkpoint(work) == osp.join(work, 'iter_2.pth')
    assert len(val_history(work)) == 1
    metrics = final_metrics(work)
    assert sorted(metrics) == ['mAP', 'mAP50'] and metrics['mAP50'] >= 0
    assert 'Iter(train) [2/2]' in open(osp.join(work,
                                                'demo_stdout.log')).read()


class _FakeProc:
    """A finished ``tools/train.py`` process: one log line, an exit code."""
    calls = []

    def __init__(self, cmd, returncode=0, **kwargs):
        self.calls.append(cmd)
        self.stdout = iter(['12/01 - mmengine - INFO - Iter(train) [1/1]\n'])
        self.returncode = returncode

    def wait(self):
        return self.returncode


@pytest.fixture
def fake_popen(monkeypatch):
    _FakeProc.calls = []
    monkeypatch.setattr(training.subprocess, 'Popen', _FakeProc)
    return _FakeProc.calls


def test_reuse_needs_the_same_finished_command(student_run, fake_popen,
                                               tmp_path, capsys):
    config, work, options = student_run
    # the same command: reused, nothing runs, nothing is removed
    train(config, work, options, 'again', reuse=True)
    assert fake_popen == []
    assert 'reusing the finished run' in capsys.readouterr().out
    assert osp.isfile(osp.join(work, 'iter_2.pth'))

    # another command (options) in a copy of the run: trained from scratch
    other = tmp_path / 'other'
    other.mkdir()
    (other / DONE_MARKER).write_text(
        open(osp.join(work, DONE_MARKER)).read())
    (other / 'iter_2.pth').write_text('old')
    train(config, str(other), ['train_cfg.max_iters=3'], 'other', reuse=True)
    assert len(fake_popen) == 1
    assert sorted(os.listdir(other)) == [DONE_MARKER, 'demo_stdout.log']
    cmd = json.loads((other / DONE_MARKER).read_text())['cmd']
    assert cmd[-1] == 'train_cfg.max_iters=3'

    # the same command without reuse: trained again
    train(config, str(other), ['train_cfg.max_iters=3'], 'other')
    assert len(fake_popen) == 2
    # reused with another interpreter (a new virtual environment)
    assert finished_run(str(other), ['/other/python'] + fake_popen[-1][1:])


def test_a_failed_run_is_not_reused(fake_popen, monkeypatch, tmp_path):
    monkeypatch.setattr(training.subprocess, 'Popen',
                        lambda cmd, **kw: _FakeProc(cmd, returncode=1))
    work = str(tmp_path / 'failed')
    with pytest.raises(SystemExit, match='failed; see .*demo_stdout.log'):
        train('configs/tiny/retinanet_r18w16_fpn_500it_synthetic.py', work,
              [], 'failed', reuse=True)
    assert not osp.exists(osp.join(work, DONE_MARKER))
    cmd = train_command('configs/tiny/retinanet_r18w16_fpn_500it_'
                        'synthetic.py', work)
    assert finished_run(work, cmd) is None
    assert cmd[0] == sys.executable and '--cfg-options' not in cmd


def test_a_run_reached_through_a_linked_directory_is_reused(
        fake_popen, tmp_path):
    """A results directory renamed and linked under its new name: the runs
    recorded under the old path are the same runs."""
    config = 'configs/tiny/retinanet_r18w16_fpn_500it_synthetic.py'
    old = tmp_path / 'one_stage'
    train(config, str(old / 'fcos' / 'era_seed0'), ['x=1'], 'old')
    os.symlink(old, tmp_path / 'detector_families')
    new = str(tmp_path / 'detector_families' / 'fcos' / 'era_seed0')
    assert finished_run(new, train_command(config, new, ['x=1']))
    assert not finished_run(new, train_command(config, new, ['x=2']))
    other = str(tmp_path / 'elsewhere')
    assert not finished_run(str(old / 'fcos' / 'era_seed0'),
                            train_command(config, other, ['x=1']))
