"""The shared trainer: a real ``tools/train.py`` run read back, and the
reuse of finished runs (faked subprocesses)."""
import importlib.util
import json
import os
import os.path as osp
import shutil
import sys

import pytest

from benchmarks import training
from benchmarks.paths import TRAIN_TOOL
from benchmarks.training import (
    DONE_MARKER,
    STARTED_MARKER,
    STDOUT_LOG,
    final_metrics,
    finished_run,
    interrupted_run,
    last_checkpoint,
    run_seconds,
    train,
    train_command,
    val_history,
)


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
    assert sorted(os.listdir(other)) == [DONE_MARKER, STARTED_MARKER,
                                         STDOUT_LOG]
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


def _train_tool_args(argv):
    """``argv`` as ``tools/train.py`` parses it."""
    old_argv, old_path = sys.argv, list(sys.path)
    sys.path.insert(0, osp.dirname(TRAIN_TOOL))  # its _bootstrap import
    sys.argv = ['train.py', *argv]
    try:
        spec = importlib.util.spec_from_file_location('train_tool',
                                                      TRAIN_TOOL)
        tool = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(tool)
        return tool.parse_args()
    finally:
        sys.argv, sys.path[:] = old_argv, old_path


def _interrupt(work: str, tmp_path, name: str) -> str:
    """A copy of the finished run ``work`` as if killed after its last
    checkpoint: no done marker, 100 s recorded as trained so far."""
    copy = str(tmp_path / name)
    shutil.copytree(work, copy)
    os.remove(osp.join(copy, DONE_MARKER))
    started = json.load(open(osp.join(copy, STARTED_MARKER)))
    # the copy's own work dir is in its command
    started['cmd'][started['cmd'].index('--work-dir') + 1] = copy
    started['seconds'] = 100.0
    with open(osp.join(copy, STARTED_MARKER), 'w') as f:
        json.dump(started, f)
    with open(osp.join(copy, 'last_checkpoint'), 'w') as f:
        f.write(osp.join(copy, 'iter_2.pth'))
    return copy


def test_an_interrupted_run_resumes_from_its_last_checkpoint(
        student_run, fake_popen, tmp_path, capsys):
    config, work, options = student_run
    copy = _interrupt(work, tmp_path, 'killed')
    cmd = train_command(config, copy, options)
    assert interrupted_run(copy, cmd)['seconds'] == 100.0
    assert interrupted_run(copy, train_command(config, copy, ['x=1'])) is None

    train(config, copy, options, 'again', reuse=True)
    assert 'resuming the interrupted run from ' + osp.join(
        copy, 'iter_2.pth') in capsys.readouterr().out
    # tools/train.py --resume (auto: the work dir's last checkpoint), after
    # the work dir and before --cfg-options, whose values would swallow it
    assert fake_popen == [cmd[:5] + ['--resume'] + cmd[5:]]
    assert fake_popen[0][3:7] == ['--work-dir', copy, '--resume',
                                  '--cfg-options']
    # and tools/train.py's own parser reads it so
    args = _train_tool_args(fake_popen[0][2:])
    assert (args.work_dir, args.resume, args.cfg_options) == (
        copy, 'auto', {'train_cfg.max_iters': 2})
    assert osp.isfile(osp.join(copy, 'iter_2.pth'))  # nothing was removed
    log = open(osp.join(copy, STDOUT_LOG)).read()
    assert log.startswith(open(osp.join(work, STDOUT_LOG)).read())  # appended
    assert log.endswith('Iter(train) [1/1]\n')
    # finished now: the seconds of both segments, then reused
    assert run_seconds(copy) >= 100.0
    assert finished_run(copy, cmd) and interrupted_run(copy, cmd) is None
    train(config, copy, options, 'again', reuse=True)
    assert len(fake_popen) == 1


def test_an_interrupted_run_without_checkpoint_or_reuse_starts_again(
        student_run, fake_popen, tmp_path):
    config, work, options = student_run
    no_ckpt = _interrupt(work, tmp_path, 'no_checkpoint')
    os.remove(osp.join(no_ckpt, 'iter_2.pth'))
    assert interrupted_run(no_ckpt, train_command(config, no_ckpt,
                                                  options)) is None
    train(config, no_ckpt, options, 'again', reuse=True)
    assert '--resume' not in fake_popen[-1]
    assert not osp.exists(osp.join(no_ckpt, 'iter_1.pth'))

    # without reuse a run is always trained from its start
    again = _interrupt(work, tmp_path, 'not_reused')
    train(config, again, options, 'again')
    assert '--resume' not in fake_popen[-1]
    assert not osp.exists(osp.join(again, 'iter_2.pth'))


def test_val_history_reads_every_segment_of_a_resumed_run(student_run,
                                                          tmp_path):
    _, work, _ = student_run
    copy = tmp_path / 'resumed'
    shutil.copytree(work, copy)
    first = next(d for d in os.listdir(copy)
                 if osp.isdir(copy / d / 'vis_data'))
    later = copy / '99999999_999999' / 'vis_data'  # sorts after the first
    later.mkdir(parents=True)
    (later / 'scalars.json').write_text(json.dumps(
        {'coco/bbox_mAP': 0.5, 'coco/bbox_mAP_50': 0.75, 'step': 0}) + '\n')
    history = val_history(str(copy))
    assert len(history) == 2 and history[0] == val_history(work)[0]
    assert final_metrics(str(copy)) == dict(mAP=0.5, mAP50=0.75)
    assert first < '99999999_999999'
