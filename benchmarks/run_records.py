"""A finished run's numbers kept with the repository, beside its tables.

A run's work dir (checkpoints, logs) lives under the ignored ``work_dirs/``
and is gone with the checkout that trained it. What the results tables and
plots need of it is small: its numbers (:func:`benchmarks.results.read_run`)
and its curves (the validation mAP, ERA's residual norms, its last alpha
sweep). :func:`write_record` keeps them in ``docs/results/runs/<run>.json``,
committed with the tables, so a later run (a fresh clone, another
machine) reuses the run instead of training it again.

A record stands for its run only while the run would be the same: its key
holds the config (the sha256 of the resolved config, the checkout's root
written as ``<repo>``), the seed and the sha256 of the teacher's weights
(:func:`weights_sha256`).
:func:`load_record` returns None for a record of another key, so a changed
config or teacher trains again, as a finished work dir of another command
would.
"""
import functools
import glob
import hashlib
import json
import os
import os.path as osp
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

from mmera.utils.atomic_files import write_text_atomic

from .paths import REPO_ROOT, repo_path
from .run_logs import MAP_KEY, last_sweep, scalar_rows

#: Where the benchmark keeps its records (committed with the tables).
RECORDS_DIR = repo_path('docs/results/runs')

#: What a record says of its origin when it was read from a finished run.
TRAINED = 'trained here (tools/train.py), read from its work dir'

#: Beside a distilled run: the SHA-256 of the teacher it learned from.
TEACHER_RECORD = 'teacher_used.json'

#: The validation keys a record keeps (the tables' and plots' metrics).
_VAL_KEYS = (MAP_KEY, 'coco/bbox_mAP_50')


def weights_sha256(checkpoint: str) -> str:
    """The sha256 of a checkpoint's weights: each tensor's name, dtype,
    shape and bytes, in name order, floating-point tensors at float16.

    It names a teacher in the records' keys. The file's own sha256 cannot:
    torch writes a random serialization id into every file it saves, so
    the same weights installed in another clone hash differently. Float16
    is the precision teachers are shipped in (:mod:`.shipped_teachers`):
    the float32 teacher a run was trained from and the copy another clone
    installs from ``teachers/`` are the same teacher.
    """
    import torch  # the CLI's --help stays light
    state = torch.load(checkpoint, map_location='cpu', weights_only=True)
    state = state.get('state_dict', state)
    digest = hashlib.sha256()
    for name in sorted(state):
        tensor = state[name]
        if tensor.is_floating_point():
            tensor = tensor.half()
        tensor = tensor.contiguous()
        digest.update(f'{name}:{tensor.dtype}:{tuple(tensor.shape)};'.encode())
        digest.update(tensor.view(-1).view(torch.uint8).numpy().tobytes()
                      if tensor.numel() else b'')
    return digest.hexdigest()


def config_sha256(config: str, root: Optional[str] = None) -> str:
    """The sha256 of ``config`` as mmengine resolves it (bases merged).

    Hashed is the resolved config as sorted JSON, with the checkout's root
    written ``<repo>``: the configs anchor their paths there, and the same
    config in another clone is the same run (mmengine's ``pretty_text``
    would not do: it wraps lines by length, so a longer root changes it).
    Resolving takes a second or two; a benchmark asks it of every run each
    time it rewrites the tables, so it is cached per file content.
    ``root``: the checkout ``config`` belongs to (default: this one).
    """
    with open(config) as f:
        return _resolved_sha256(config, f.read(), root or REPO_ROOT)


def resolved_config(config: str, root: Optional[str] = None) -> str:
    """``config`` as mmengine resolves it, as :func:`config_sha256` hashes
    it: sorted JSON, the checkout's ``root`` written ``<repo>``."""
    from mmengine.config import Config  # the CLI's --help stays light
    return json.dumps(Config.fromfile(config).to_dict(), sort_keys=True,
                      default=repr).replace(root or REPO_ROOT, '<repo>')


@functools.lru_cache(maxsize=None)
def _resolved_sha256(config: str, text: str, root: str) -> str:
    """:func:`config_sha256` of ``config`` whose text is ``text`` (the
    cache's key: an edited config is resolved again)."""
    return hashlib.sha256(resolved_config(config, root).encode()).hexdigest()


def record_key(config: str, seed: int, teacher: Optional[str]) -> dict:
    """What a record must match to stand for a run.

    Args:
        config: The run's config (absolute or repository-relative).
        seed: Its ``randomness.seed``.
        teacher: The sha256 of its teacher's weights (None: no teacher).

    Returns:
        dict: ``config`` (repository-relative), ``config_sha256``, ``seed``
        and ``teacher_sha256``.
    """
    config = repo_path(config)
    return dict(config=osp.relpath(config, REPO_ROOT),
                config_sha256=config_sha256(config), seed=int(seed),
                teacher_sha256=teacher)


def run_curves(work_dir: str) -> dict:
    """What the plots read of a run: its compact scalar rows and last sweep.

    Args:
        work_dir: A ``tools/train.py`` work dir.

    Returns:
        dict: ``rows`` (every row's ``step``, the validation metrics and
        ERA's ``era.residual_*`` norms, in order: enough for
        :func:`benchmarks.run_logs.val_series` and
        :func:`benchmarks.run_logs.residual_series`) and ``alpha_sweep`` (its
        last sweep, or None).
    """
    return dict(rows=compact_rows(scalar_rows(work_dir)),
                alpha_sweep=last_sweep(work_dir))


def compact_rows(rows: Sequence[dict]) -> List[dict]:
    """``rows`` with only the keys the plots read (the losses, learning
    rates and timings are dropped, and so is a row left with its step
    alone: a record stays a few kilobytes)."""
    kept = []
    for row in rows:
        small = {k: v for k, v in row.items()
                 if k in _VAL_KEYS or k.startswith('era.residual_')}
        if small:
            kept.append({'step': row['step'], **small} if 'step' in row
                        else small)
    return kept


def write_record(records_dir: str, name: str, key: dict, run: dict,
                 curves: dict, source: str = TRAINED) -> str:
    """Writes (atomically) ``<records_dir>/<name>.json``.

    Args:
        records_dir: The records' folder.
        name: The run's name (its work dir's basename).
        key: :func:`record_key` of the run.
        run: Its numbers (:func:`benchmarks.results.read_run`).
        curves: :func:`run_curves` of it.
        source: Where the numbers come from.

    Returns:
        str: The record's path.
    """
    os.makedirs(records_dir, exist_ok=True)
    path = osp.join(records_dir, f'{name}.json')
    write_text_atomic(path, json.dumps(
        dict(key=key, source=source, run=run, curves=curves), indent=1,
        sort_keys=True) + '\n')
    return path


def records_of(config: str, records_dir: str = RECORDS_DIR
               ) -> Iterator[Tuple[int, str, dict]]:
    """``(seed, path, record)`` of every readable record of ``config``
    (repository-relative), by seed: ``<config name>_seed<seed>.json`` files
    whose key names ``config``. Their hashes are not checked (the benchmark
    does that before it reuses a record)."""
    name = osp.splitext(osp.basename(config))[0]
    found = []
    for path in glob.glob(osp.join(glob.escape(records_dir),
                                   glob.escape(name) + '_seed*.json')):
        seed = osp.basename(path)[len(name) + len('_seed'):-len('.json')]
        if not seed.isdigit():
            continue
        try:
            with open(path) as f:
                record = json.load(f)
        except (OSError, ValueError):
            continue
        if isinstance(record, dict) and isinstance(
                record.get('key'), dict) and record['key'].get(
                    'config') == config:
            found.append((int(seed), path, record))
    yield from sorted(found, key=lambda x: x[0])


def load_record(records_dir: Optional[str], name: str,
                key: dict) -> Optional[Dict]:
    """The record of ``name`` if it has ``key``, else None.

    Args:
        records_dir: The records' folder (None: no records).
        name: The run's name.
        key: :func:`record_key` of the run asked for.

    Returns:
        dict | None: ``key``, ``source``, ``run`` and ``curves``; None when
        there is no record, it cannot be read, or it is of another config,
        seed or teacher.
    """
    if records_dir is None:
        return None
    try:
        with open(osp.join(records_dir, f'{name}.json')) as f:
            record = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get('key') != key:
        return None
    if not isinstance(record.get('run'), dict):
        return None
    return record


def read_curves(records_dir: Optional[str], name: str) -> dict:
    """The curves of record ``name`` (its key is not checked: the caller
    took the run's numbers from it); empty ones without a readable record.
    """
    empty = dict(rows=[], alpha_sweep=None)
    if records_dir is None:
        return empty
    try:
        with open(osp.join(records_dir, f'{name}.json')) as f:
            curves = json.load(f).get('curves')
    except (OSError, ValueError, AttributeError):
        return empty
    return dict(empty, **curves) if isinstance(curves, dict) else empty


def write_teacher_used(work_dir: str, sha: str) -> None:
    """Notes in the run's work dir the SHA-256 of the teacher it learned
    from (:func:`teacher_used` reads it)."""
    write_text_atomic(osp.join(work_dir, TEACHER_RECORD),
                      json.dumps(dict(sha256=sha)))


def teacher_used(work_dir: str) -> Optional[str]:
    """The SHA-256 of the teacher a run was distilled from (None: not
    noted, a teacher-free run or one made before the note existed)."""
    try:
        with open(osp.join(work_dir, TEACHER_RECORD)) as f:
            return json.load(f)['sha256']
    except (OSError, ValueError, KeyError, TypeError):
        return None
