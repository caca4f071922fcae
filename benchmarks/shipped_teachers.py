"""The tiny teachers kept with the repository, in fp16, checksum-verified.

A converged tiny teacher takes 40-70 minutes to train on 2 CPU cores; a
first ``make demo`` must not wait for it. Each teacher that
:mod:`benchmarks.teachers` trains can therefore be *shipped*: its weights
(the state dict alone, cast to float16) are kept in ``teachers/`` as
``<work dir name>.fp16.pth`` with

* a line in ``teachers/SHA256SUMS`` (``sha256sum -c`` reads it);
* ``<name>.json``: the teacher config it was trained from, the exact command,
  its seconds, the checkpoint kept (:func:`teacher_checkpoint`: the best
  validation's) with its val metrics, and the validation curve (mAP per
  validation, the "has it plateaued" evidence);
* ``<name>.log``: the training log of that run.

:func:`install_shipped` turns a shipped copy back into the float32
checkpoint the distillation configs load (``work_dirs/teacher_<...>/
teacher.pth``) after checking its checksum, and only if it was trained from
the config the set uses today: a stale copy is never loaded silently.
"""
import glob
import hashlib
import json
import os
import os.path as osp
import re
import shutil
from typing import Dict, Optional

import torch

from mmera.utils.atomic_files import atomic_output
from mmera.utils.checkpoint_fit import read_checkpoint_weights

from .paths import repo_path
from .run_logs import scalar_rows, val_series
from .training import done_record, last_checkpoint

#: The checkpoint mmengine's CheckpointHook keeps as the best validation's.
BEST_PATTERN = 'best_coco_bbox_mAP_iter_*.pth'

#: Where the shipped teachers live, relative to the repository.
SHIPPED_DIR = 'teachers'
SUMS_FILE = 'SHA256SUMS'


def shipped_files(name: str, root: Optional[str] = None) -> Dict[str, str]:
    """The paths of teacher ``name``'s shipped files: ``weights``, ``record``
    (json) and ``log``, under ``root`` (default ``<repo>/teachers``)."""
    root = root or repo_path(SHIPPED_DIR)
    return dict(weights=osp.join(root, f'{name}.fp16.pth'),
                record=osp.join(root, f'{name}.json'),
                log=osp.join(root, f'{name}.log'))


def sha256(path: str) -> str:
    """The hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def _read_sums(root: str) -> Dict[str, str]:
    path = osp.join(root, SUMS_FILE)
    if not osp.isfile(path):
        return {}
    sums = {}
    with open(path) as f:
        for line in f:
            if line.strip():
                digest, name = line.split(maxsplit=1)
                sums[name.strip().lstrip('*')] = digest
    return sums


def _write_sums(root: str, sums: Dict[str, str]) -> None:
    with atomic_output(osp.join(root, SUMS_FILE)) as tmp:
        with open(tmp, 'w') as f:
            for name in sorted(sums):
                f.write(f'{sums[name]}  {name}\n')


def teacher_checkpoint(work_dir: str) -> str:
    """The checkpoint of a teacher run that becomes the teacher: its best
    validation's (mmengine's ``save_best``), else its last.

    The best, not the last: a teacher is a choice made on val (a small set
    such as DeepForest's 42 training tiles is overfitted long before the
    schedule ends); the students are then scored on the report split.
    """
    best = sorted(glob.glob(osp.join(work_dir, BEST_PATTERN)),
                  key=_iteration)  # iter_1000 after iter_250
    return best[-1] if best else last_checkpoint(work_dir)


def _iteration(ckpt: str) -> int:
    """The ``iter_<n>`` of a checkpoint's file name (-1 without one)."""
    found = re.search(r'iter_(\d+)\.pth$', osp.basename(ckpt))
    return int(found.group(1)) if found else -1


def val_curve(work_dir: str) -> list:
    """The run's validations: ``[{'iter', 'mAP', 'mAP50'}]`` in order."""
    rows = scalar_rows(work_dir)
    map50 = val_series(rows, 'coco/bbox_mAP_50')
    return [dict(iter=it, mAP=m, mAP50=map50.get(it))
            for it, m in sorted(val_series(rows).items())]


def checkpoint_metrics(work_dir: str, ckpt: str) -> Dict[str, float]:
    """The validation metrics at ``ckpt``'s iteration (its file name's
    ``iter_<n>``; the last validation's if it names none); empty when no
    validation was made at it."""
    curve = val_curve(work_dir)
    it = _iteration(ckpt)
    row = ([r for r in curve if r['iter'] == it] if it >= 0 else curve[-1:]
           ) or [{}]
    return {k: row[-1][k] for k in ('mAP', 'mAP50')
            if row[-1].get(k) is not None}


def ship(work_dir: str, name: str, config: str,
         root: Optional[str] = None) -> str:
    """Keeps a finished teacher run's teacher (:func:`teacher_checkpoint`)
    with the repository.

    Args:
        work_dir: The teacher's finished run (``tools/train.py`` work dir).
        name: Its name, the work dir's (``teacher_synthetic``, ...).
        config: The teacher config it was trained from, repo-relative.
        root: Where to write (default ``<repo>/teachers``).

    Returns:
        str: The fp16 weights' path.
    """
    root = root or repo_path(SHIPPED_DIR)
    os.makedirs(root, exist_ok=True)
    files = shipped_files(name, root)
    done = done_record(work_dir)
    cmd = done.get('cmd') or []
    if len(cmd) < 2 or osp.normpath(cmd[1]) != osp.normpath(
            repo_path(config)):
        raise ValueError(
            f'{work_dir} holds a run of {cmd[1] if len(cmd) > 1 else "?"}, '
            f'not of {config}: train it first (`make teachers RETRAIN=1`).')
    source = teacher_checkpoint(work_dir)
    weights = read_checkpoint_weights(source, 'teacher checkpoint')
    half = {k: v.half() if v.is_floating_point() else v
            for k, v in weights.items()}
    it = _iteration(source)
    meta = {'iter': it if it >= 0 else None, 'config': config}
    with atomic_output(files['weights']) as tmp:
        torch.save({'state_dict': half, 'meta': meta}, tmp)
    record = dict(config=config, command=done.get('cmd'),
                  seconds=done.get('seconds'), iterations=meta['iter'],
                  checkpoint=osp.basename(source),
                  metrics=checkpoint_metrics(work_dir, source),
                  val_curve=val_curve(work_dir),
                  sha256=sha256(files['weights']))
    with atomic_output(files['record']) as tmp:
        with open(tmp, 'w') as f:
            json.dump(record, f, indent=1)
    logs = sorted(glob.glob(osp.join(work_dir, '*', '*.log')))
    if logs:
        with atomic_output(files['log']) as tmp:
            with open(tmp, 'wb') as out:
                for log in logs:  # every segment of a resumed run
                    with open(log, 'rb') as f:
                        shutil.copyfileobj(f, out)
    sums = _read_sums(root)
    sums[osp.basename(files['weights'])] = record['sha256']
    _write_sums(root, sums)
    return files['weights']


def shipped_record(name: str, config: str,
                   root: Optional[str] = None) -> Optional[dict]:
    """The json record of shipped teacher ``name`` (command, seconds, the
    checkpoint and its val ``metrics``, validation curve), or None if no
    copy of ``config`` is shipped."""
    path = shipped_files(name, root)['record']
    if not osp.isfile(path):
        return None
    with open(path) as f:
        record = json.load(f)
    return record if record.get('config') == config else None


def install_shipped(name: str, config: str, path: str,
                    root: Optional[str] = None) -> bool:
    """Writes the float32 checkpoint of shipped teacher ``name`` to ``path``.

    Args:
        name: The teacher's name (its work dir's).
        config: The teacher config the set uses today, repo-relative; a copy
            trained from another config is not installed.
        path: The checkpoint to write (atomically).
        root: Where the shipped teachers are (default ``<repo>/teachers``).

    Returns:
        bool: True if installed; False if no copy of that config is shipped.

    Raises:
        ValueError: If the copy's SHA-256 differs from ``SHA256SUMS`` (a
            corrupt file or a Git LFS pointer); the message says the fix.
    """
    root = root or repo_path(SHIPPED_DIR)
    files = shipped_files(name, root)
    if not osp.isfile(files['weights']) or \
            shipped_record(name, config, root) is None:
        return False
    expected = _read_sums(root).get(osp.basename(files['weights']))
    actual = sha256(files['weights'])
    if expected != actual:
        raise ValueError(
            f'shipped teacher {files["weights"]} fails its checksum (sha256 '
            f'{actual}, {SUMS_FILE} says {expected}): restore it with `git '
            f'checkout -- {SHIPPED_DIR}/`, or train the teacher instead with '
            '`make teachers RETRAIN=1`.')
    shipped = torch.load(files['weights'], map_location='cpu',
                         weights_only=True)
    state = {k: v.float() if v.is_floating_point() else v
             for k, v in shipped['state_dict'].items()}
    meta = dict(shipped.get('meta', {}), shipped_from=files['weights'],
                sha256=actual)
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with atomic_output(path) as tmp:
        torch.save({'state_dict': state, 'meta': meta}, tmp)
    return True
