"""The scalars a ``tools/train.py`` run logs: one reader for every tool.

mmengine's ``LoggerHook`` writes one JSON object per logging step to
``<work_dir>/<timestamp>/vis_data/scalars.json``; a resumed run logs each
segment in its own timestamped dir.
"""
import json
import os
import os.path as osp
import re
from typing import Dict, List, Optional, Sequence, Tuple

#: The validation metric of the tiny runs' curves.
MAP_KEY = 'coco/bbox_mAP'


def scalar_rows(work_dir: str) -> List[dict]:
    """Every row the run logged to ``vis_data/scalars.json``, in order.

    Args:
        work_dir: The run's work dir; every timestamped log dir in it is
            read, oldest first (a resumed run logs each segment in its own),
            as :func:`benchmarks.training.val_history` reads them.

    Returns:
        list[dict]: The rows (training and validation alike); empty when the
        run logged nothing yet. A line that is not JSON (the last line of a
        run being written) is skipped.
    """
    if not osp.isdir(work_dir):
        return []
    rows = []
    for run in sorted(os.listdir(work_dir)):
        path = osp.join(work_dir, run, 'vis_data', 'scalars.json')
        if not osp.isfile(path):
            continue
        with open(path) as f:
            for line in f:
                try:
                    row = json.loads(line)
                except ValueError:
                    continue
                if isinstance(row, dict):
                    rows.append(row)
    return rows


def val_series(rows: Sequence[dict], key: str = MAP_KEY) -> Dict[int, float]:
    """``key`` of every validation row, by the iteration it was made at.

    mmengine's ``LoggerHook`` stamps a validation with the *epoch*
    (``log_metric_by_epoch=True``, its default; the tiny configs now set it
    to False, older runs did not): in an iteration-based
    run every such validation row says ``step: 0``. The
    iteration is recovered from the training row logged just before it
    (validation runs right after that iteration's log); a row's own step is
    kept where it is larger (runs that log metrics by iteration).

    Args:
        rows: The run's rows, in order (:func:`scalar_rows`).
        key: The metric.

    Returns:
        dict: iteration -> value; a later row at the same iteration (a
        resumed run) replaces an earlier one.
    """
    series: Dict[int, float] = {}
    last_train = 0
    for row in rows:
        if key in row:
            step = max(int(row.get('step', 0)), last_train)
            series[step] = float(row[key])
        elif 'step' in row:
            last_train = int(row['step'])
    return series


def last_sweep(work_dir: str) -> Optional[dict]:
    """ERA's last alpha sweep (``AlphaSweepHook``'s ``alpha_sweep.json``, a
    list of sweeps, each with ``iter`` and ``results``: alpha -> metrics);
    None without a readable one (not an ERA run, or none made yet)."""
    try:
        with open(osp.join(work_dir, 'alpha_sweep.json')) as f:
            sweeps = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(sweeps, list) or not sweeps:
        return None
    last = sweeps[-1]
    return last if isinstance(last, dict) and last.get('results') else None


#: ``era.residual_k{k}_p{l}``, logged by ERA every training step.
_RESIDUAL_KEY = re.compile(r'^era\.residual_k(\d+)_p(\d+)$')


def residual_series(rows: Sequence[dict]
                    ) -> Dict[Tuple[int, int], Dict[int, float]]:
    """ERA's logged residual norms: ``(k, level) -> {iteration: value}``.

    Args:
        rows: The run's rows, in order (:func:`scalar_rows`).

    Returns:
        dict: Empty when the run logged no ``era.residual_k*_p*`` key.
    """
    series: Dict[Tuple[int, int], Dict[int, float]] = {}
    for row in rows:
        if 'step' not in row:
            continue
        for key, value in row.items():
            match = _RESIDUAL_KEY.match(key)
            if match:
                k, level = int(match.group(1)), int(match.group(2))
                series.setdefault((k, level), {})[int(row['step'])] = float(
                    value)
    return series
