"""The report split: a held-out test split that no choice was made on.

The tiny configs validate on each set's ``val`` split during training, and
the schedules, loss weights and alphas of the methods were chosen on it, so
its numbers favour whatever was tuned most. The results table reports each
run's last checkpoint on the set's ``test`` split instead: the synthetic
set's test images come from another generator seed, the deepforest set's
from two other sites. :func:`evaluate` runs ``tools/test.py`` on it and
caches the metrics in the run dir (``report_metrics.json``), keyed by the
checkpoint and the split's annotation file, so a later call only evaluates
what changed.
"""
import glob
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
from dataclasses import dataclass
from typing import Dict, List, Optional

from mmera.utils.atomic_files import write_text_atomic

from .paths import REPO_ROOT, repo_path
from .training import last_checkpoint

#: ``tools/test.py``, which evaluates a checkpoint on a config's test split.
TEST_TOOL = osp.join(REPO_ROOT, 'tools', 'test.py')
#: The cached report-split metrics, in the run dir.
REPORT_FILE = 'report_metrics.json'
#: The work dir of ``tools/test.py``, in the run dir (not a timestamped dir
#: of the run itself, so the run's validation history stays the run's).
TEST_WORK_DIR = 'report_split'


@dataclass(frozen=True)
class ReportSplit:
    """The report split of one set.

    Attributes:
        ann: Its COCO annotation file, relative to the repository.
        img: Its image directory, relative to the repository.
        make: The command that makes it.
    """
    ann: str
    img: str
    make: str


SPLITS: Dict[str, ReportSplit] = {
    'synthetic': ReportSplit(
        'data/synthetic/annotations/instances_test.json',
        'data/synthetic/test/',
        '`make data-synthetic` (python tools/dataset_converters/'
        'make_synthetic_coco.py --out data/synthetic --num-train 400 '
        '--num-val 100 --seed 0 --num-test 200 --test-seed 1)'),
    'deepforest': ReportSplit(
        'data/deepforest/annotations/instances_test.json',
        'data/deepforest/test/', '`make data-deepforest`'),
}


def split_options(data: str) -> List[str]:
    """The ``--cfg-options`` that point a config's test split at the set's
    report split.

    The paths are absolute: the configs join relative ones to their
    ``data_root``, which differs between the sets' base configs.

    Args:
        data: A key of :data:`SPLITS`.

    Returns:
        list[str]: ``key=value`` strings.
    """
    split = SPLITS[data]
    ann, img = repo_path(split.ann), repo_path(split.img)
    return [f'test_dataloader.dataset.ann_file={ann}',
            f'test_dataloader.dataset.data_prefix.img={img}',
            f'test_evaluator.ann_file={ann}']


def missing_split(data: str) -> Optional[str]:
    """Why the set's report split cannot be used (None when it can)."""
    split = SPLITS[data]
    if osp.isfile(repo_path(split.ann)):
        return None
    return (f'no report split: {split.ann} is missing; make it with '
            f'{split.make}')


def split_size(data: str) -> Optional[Dict[str, int]]:
    """``images`` and ``boxes`` of the set's report split (None when it
    is missing): the table says how much data its numbers stand on."""
    path = repo_path(SPLITS[data].ann)
    if not osp.isfile(path):
        return None
    with open(path) as f:
        coco = json.load(f)
    return dict(images=len(coco.get('images', [])),
                boxes=len(coco.get('annotations', [])))


def report_command(config: str, checkpoint: str, work_dir: str,
                   data: str) -> List[str]:
    """The ``tools/test.py`` command that evaluates ``checkpoint`` of
    ``config`` on the report split of ``data``, writing into ``work_dir``."""
    return [sys.executable, TEST_TOOL, repo_path(config), checkpoint,
            '--work-dir', work_dir, '--cfg-options', *split_options(data)]


def run_test(cmd: List[str], work_dir: str) -> Dict[str, float]:
    """Runs ``tools/test.py`` and reads the metrics it wrote.

    Args:
        cmd: The command (:func:`report_command`).
        work_dir: Its ``--work-dir``; mmengine writes the test metrics to
            ``<work_dir>/<timestamp>/<timestamp>.json``.

    Returns:
        dict: ``mAP`` and ``mAP50`` (bbox).

    Raises:
        RuntimeError: If the tool failed or wrote no metrics (the message
            names its log).
    """
    if osp.isdir(work_dir):  # one timestamp dir: the metrics are this run's
        shutil.rmtree(work_dir)
    os.makedirs(work_dir)
    log = osp.join(work_dir, 'test_stdout.log')
    with open(log, 'w') as f:
        proc = subprocess.run(cmd, cwd=REPO_ROOT, stdout=f,
                              stderr=subprocess.STDOUT, text=True)
    found = sorted(glob.glob(osp.join(work_dir, '*', '*.json')))
    if proc.returncode or not found:
        raise RuntimeError(f'tools/test.py failed; see {log}')
    with open(found[-1]) as f:
        metrics = json.load(f)
    return dict(mAP=metrics['coco/bbox_mAP'],
                mAP50=metrics['coco/bbox_mAP_50'])


def _fingerprint(path: str) -> List:
    """Name, size and modification time: a changed file has a new one."""
    st = os.stat(path)
    return [osp.basename(path), st.st_size, st.st_mtime_ns]


def evaluate(config: str, run_dir: str, data: str) -> Dict:
    """The report-split metrics of a finished run's last checkpoint.

    They are cached in ``<run_dir>/report_metrics.json`` with the
    checkpoint's and the split's fingerprints and computed again when either
    changed (a retrained run, a regenerated split).

    Args:
        config: The run's config (repository-relative or absolute).
        run_dir: The run's work dir.
        data: The run's set (a key of :data:`SPLITS`).

    Returns:
        dict: ``mAP``, ``mAP50`` and ``checkpoint`` (its file name), or
        ``{'error': ...}`` when the split is missing (the message names the
        command that makes it) or the evaluation failed.
    """
    why = missing_split(data)
    if why:
        return dict(error=why)
    try:
        ckpt = last_checkpoint(run_dir)
    except OSError as e:
        return dict(error=f'no checkpoint to evaluate: {e}')
    key = dict(checkpoint=_fingerprint(ckpt),
               split=_fingerprint(repo_path(SPLITS[data].ann)))
    cache = osp.join(run_dir, REPORT_FILE)
    try:
        with open(cache) as f:
            cached = json.load(f)
        if cached.get('key') == key:
            return cached['metrics']
    except (OSError, ValueError, KeyError, AttributeError):
        pass  # no usable cache: evaluate
    work_dir = osp.join(run_dir, TEST_WORK_DIR)
    try:
        metrics = run_test(report_command(config, ckpt, work_dir, data),
                           work_dir)
    except (RuntimeError, OSError, KeyError, ValueError) as e:
        return dict(error=f'report split: {e}')
    metrics['checkpoint'] = osp.basename(ckpt)
    write_text_atomic(cache, json.dumps(dict(key=key, metrics=metrics),
                                        indent=1))
    return metrics
