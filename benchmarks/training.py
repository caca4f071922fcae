"""Train a config through ``tools/train.py`` in a subprocess; read its run.

:func:`train` runs the real tool (same data order, schedule and evaluation as
a user's command), streams a short progress line per logged iteration and
writes a marker, ``demo_done.json``, when the run finished. A later call with
the same command reuses the finished run instead of training again, so adding
seeds or methods only trains the new ones, and resumes an interrupted run
from its last checkpoint (``demo_started.json`` records the command and the
training seconds so far), so a long run survives an interruption. The
readers (:func:`val_history`, :func:`final_metrics`, :func:`best_alpha`,
:func:`last_checkpoint`, :func:`run_seconds`) take the work dir of a run.
"""
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from typing import Dict, Iterator, List, Optional, Sequence

from mmera.utils.atomic_files import write_text_atomic

from .paths import REPO_ROOT, TRAIN_TOOL, repo_path
from .run_logs import MAP_KEY, scalar_rows

#: Written into the work dir once a run finished: the command and its time.
DONE_MARKER = 'demo_done.json'
#: Written when a run starts and at every progress line: the command and
#: the training seconds so far; an interrupted run of the same command is
#: resumed from its last checkpoint.
STARTED_MARKER = 'demo_started.json'
#: The subprocess's full output, in the work dir (appended to on resume).
STDOUT_LOG = 'demo_stdout.log'
_PROGRESS = ('Iter(train)', 'coco/bbox_mAP:', 'ST-mode sweep')


def train_command(config: str, work_dir: str,
                  options: Sequence[str] = ()) -> List[str]:
    """The ``tools/train.py`` command line of a run.

    Args:
        config: The config, relative to the repository or absolute.
        work_dir: The run's work dir (made absolute).
        options: ``key=value`` strings for ``--cfg-options``.

    Returns:
        list[str]: The command, starting with this interpreter.
    """
    cmd = [sys.executable, TRAIN_TOOL, repo_path(config), '--work-dir',
           osp.abspath(work_dir)]
    if options:
        cmd += ['--cfg-options', *options]
    return cmd


def finished_run(work_dir: str, cmd: Sequence[str]) -> Optional[dict]:
    """The marker of a finished run of ``cmd`` in ``work_dir``, if any.

    Args:
        work_dir: The run's work dir.
        cmd: The command (as :func:`train_command` returns it); the
            interpreter is not compared, so a new virtual environment still
            reuses the runs, and the work dirs compare by their real paths
            (a work dir reached through a renamed-and-linked parent is the
            same run).

    Returns:
        dict | None: The marker (``cmd``, ``seconds``), or None when the run
        did not finish or ran another command.
    """
    return _marker(work_dir, DONE_MARKER, cmd)


def interrupted_run(work_dir: str, cmd: Sequence[str]) -> Optional[dict]:
    """The start marker of an unfinished run of ``cmd`` that can resume.

    Args:
        work_dir: The run's work dir.
        cmd: The command, compared as :func:`finished_run` compares it.

    Returns:
        dict | None: The marker (``cmd``, ``seconds`` trained so far), or
        None when the run finished, ran another command or saved no
        checkpoint to resume from.
    """
    if finished_run(work_dir, cmd):
        return None
    started = _marker(work_dir, STARTED_MARKER, cmd)
    if started is None:
        return None
    try:
        last_checkpoint(work_dir)
    except OSError:  # FileNotFoundError included
        return None
    return started


def _marker(work_dir: str, name: str, cmd: Sequence[str]) -> Optional[dict]:
    """The json marker ``name`` in ``work_dir`` if it records ``cmd``."""
    marker = osp.join(work_dir, name)
    if not osp.isfile(marker):
        return None
    try:
        with open(marker) as f:
            done = json.load(f)
    except (OSError, ValueError):
        return None
    recorded = done.get('cmd') if isinstance(done, dict) else None
    if not isinstance(recorded, list):
        return None
    return done if _resolved(recorded) == _resolved(cmd[1:]) else None


def _resolved(args: Sequence[str]) -> List[str]:
    """``args`` with the value of ``--work-dir`` as its real path."""
    args = list(args)
    for i, arg in enumerate(args[:-1]):
        if arg == '--work-dir':
            args[i + 1] = osp.realpath(args[i + 1])
    return args


def train(config: str, work_dir: str, options: Sequence[str], label: str,
          reuse: bool = False) -> None:
    """Runs ``tools/train.py``, streaming a short progress line per log line.

    With ``reuse`` set, a run that finished before with the same command is
    kept (its ``demo_done.json`` marker records the command) and one that
    was interrupted resumes from its last checkpoint (``tools/train.py
    --resume``, which continues bit-identically); otherwise the work dir is
    removed (a half-finished or different run) and the config trained from
    scratch.

    Args:
        config: The config, relative to the repository or absolute.
        work_dir: The run's work dir.
        options: ``key=value`` strings for ``--cfg-options``.
        label: Prefix of the progress lines.
        reuse: Whether a finished run of the same command is kept and an
            interrupted one resumed.

    Raises:
        SystemExit: If the training fails (the message names its log).
    """
    work_dir = osp.abspath(work_dir)
    cmd = train_command(config, work_dir, options)
    if reuse and finished_run(work_dir, cmd):
        print(f'  [{label}] reusing the finished run in {work_dir}')
        return
    started = interrupted_run(work_dir, cmd) if reuse else None
    if started is None:
        if osp.isdir(work_dir):
            shutil.rmtree(work_dir)
        os.makedirs(work_dir, exist_ok=True)
        run_cmd, before = cmd, 0.0
    else:
        print(f'  [{label}] resuming the interrupted run from '
              f'{last_checkpoint(work_dir)}')
        # right after the work dir: before --cfg-options, whose values run
        # to the end of the line
        at = cmd.index('--work-dir') + 2
        run_cmd = cmd[:at] + ['--resume'] + cmd[at:]
        before = float(started['seconds'])
    start = time.time()

    def record(name: str) -> None:
        write_text_atomic(osp.join(work_dir, name), json.dumps(
            dict(cmd=cmd[1:], seconds=before + time.time() - start)))

    record(STARTED_MARKER)
    with open(osp.join(work_dir, STDOUT_LOG), 'a' if started else 'w') as log:
        # unbuffered: progress lines arrive while the run goes on
        proc = subprocess.Popen(run_cmd, cwd=REPO_ROOT,
                                stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True,
                                env=dict(os.environ, PYTHONUNBUFFERED='1'))
        for line in proc.stdout:
            log.write(line)
            if any(key in line for key in _PROGRESS):
                print(f'  [{label} {time.time() - start:5.0f}s] '
                      f'{line.split(" - INFO - ")[-1].strip()[:150]}',
                      flush=True)
                record(STARTED_MARKER)
        if proc.wait() != 0:
            raise SystemExit(f'{label} failed; see {log.name}')
    record(DONE_MARKER)


def done_record(work_dir: str) -> dict:
    """The marker of a finished run: its ``cmd`` and ``seconds``.

    Raises:
        FileNotFoundError: If the run did not finish (no marker).
    """
    path = osp.join(work_dir, DONE_MARKER)
    if not osp.isfile(path):
        raise FileNotFoundError(f'{work_dir} holds no finished run '
                                f'({DONE_MARKER} missing): train it first.')
    with open(path) as f:
        return json.load(f)


def run_seconds(work_dir: str) -> float:
    """The training time of a finished run (from its marker), in seconds."""
    return float(done_record(work_dir)['seconds'])


def last_checkpoint(work_dir: str) -> str:
    """The run's last checkpoint, as its ``last_checkpoint`` file names it.

    Args:
        work_dir: The run's work dir.

    Returns:
        str: The checkpoint's path (a relative entry is taken from
        ``work_dir``).

    Raises:
        FileNotFoundError: If the run saved no checkpoint.
    """
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        path = f.read().strip()
    if not osp.isabs(path):
        path = osp.join(work_dir, osp.basename(path))
    if not osp.isfile(path):
        raise FileNotFoundError(f'{work_dir}: last_checkpoint names the '
                                f'missing file {path}')
    return path


def val_history(work_dir: str) -> List[Dict[str, float]]:
    """The validation metrics the run logged, in order.

    Args:
        work_dir: The run's work dir (every timestamped log dir with a
            ``vis_data/scalars.json`` is read, oldest first: a resumed run
            logs each segment in its own).

    Returns:
        list[dict]: One row of scalars per validation with a bbox mAP.

    Raises:
        FileNotFoundError: If the run logged no scalars.
    """
    if not any(osp.isfile(osp.join(work_dir, d, 'vis_data', 'scalars.json'))
               for d in os.listdir(work_dir)):
        raise FileNotFoundError(f'no vis_data/scalars.json under {work_dir}')
    return [r for r in scalar_rows(work_dir) if MAP_KEY in r]


def final_metrics(work_dir: str) -> Dict[str, float]:
    """The bbox mAP and mAP50 of the run's last validation.

    Raises:
        IndexError: If the run logged no validation with a bbox mAP.
    """
    last = val_history(work_dir)[-1]
    return dict(mAP=last[MAP_KEY], mAP50=last['coco/bbox_mAP_50'])


def best_alpha(work_dir: str) -> Dict[str, float]:
    """ERA's ST-mode at its best alpha in the run's last alpha sweep.

    Args:
        work_dir: The work dir of an ERA run (``AlphaSweepHook`` writes its
            ``alpha_sweep.json``).

    Returns:
        dict: ``mAP``, ``mAP50`` and ``alpha`` of the best alpha.
    """
    with open(osp.join(work_dir, 'alpha_sweep.json')) as f:
        last = json.load(f)[-1]
    alpha, res = max(last['results'].items(),
                     key=lambda kv: kv[1]['coco/bbox_mAP'])
    return dict(mAP=res['coco/bbox_mAP'], mAP50=res['coco/bbox_mAP_50'],
                alpha=float(alpha))


@contextmanager
def child_threads(threads: Optional[int]) -> Iterator[None]:
    """The children (``tools/train.py``, ``tools/test.py``) run on
    ``threads`` threads each (None: torch's default, every core): runs side
    by side, in one driver or in several, on threads of their own would
    fight over the cores and each run many times slower."""
    keys = ('OMP_NUM_THREADS', 'MKL_NUM_THREADS')
    saved = {k: os.environ.get(k) for k in keys}
    if threads is not None:
        os.environ.update({k: str(threads) for k in keys})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
