"""The train-step ratios of the results table (issue 13).

The table's wall-clock column mixes in whatever else the machine ran; the
step ratio does not: each config of a suite is timed in a child process of
its own (``tools/benchmark/config_step.py``: a few training steps on the
config's first real batch, after untimed warm-up), the configs in rotated
orders over ``rounds`` sweeps (:func:`mmera.runs.children.sweep`), and the
medians kept in ``<work_dir>/step_times.json`` (``suite -> method ->
{median_ms, p25_ms, p75_ms, max_iters}``), which the table reads. Measure
on an otherwise idle machine.
"""
import json
import os.path as osp
import sys
from typing import Dict, Optional, Sequence

from ..utils.atomic_files import write_text_atomic
from .children import sweep
from .paths import repo_path
from .suites import SUITES

#: The marker of ``tools/benchmark/config_step.py``'s result line.
MARK = 'CONFIG_STEP_RESULT '
#: Where the table's step times are, in the results' work dir.
STEP_FILE = 'step_times.json'
_TOOL = repo_path('tools/benchmark/config_step.py')
_KEEP = ('median_ms', 'p25_ms', 'p75_ms', 'max_iters', 'error')


def load_step_times(work_dir: str) -> Dict[str, Dict[str, dict]]:
    """The step times kept in ``work_dir`` (empty without any)."""
    try:
        with open(osp.join(work_dir, STEP_FILE)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def measure_step_times(suites: Sequence[str], work_dir: str,
                       rounds: int = 2, iters: int = 4,
                       points: int = 2) -> Dict[str, Dict[str, dict]]:
    """Times every config of ``suites`` and keeps the medians with those of
    other suites measured before.

    Args:
        suites: Keys of :data:`SUITES`.
        work_dir: The results' work dir (``step_times.json`` goes there).
        rounds: Rotated sweeps over a suite's configs.
        iters: Timed steps per schedule point and round.
        points: Schedule points (distillers may change along it).

    Returns:
        dict: Everything kept, ``suite -> method -> times``.
    """
    kept = load_step_times(work_dir)
    for suite in suites:
        configs = SUITES[suite].configs()

        def command(method: str) -> list:
            return [sys.executable, _TOOL, repo_path(configs[method]),
                    '--iters', str(iters), '--points', str(points)]

        pooled = sweep(list(configs), rounds, command, MARK)
        kept[suite] = {m: {k: r[k] for k in _KEEP if k in r}
                       for m, r in pooled.items()}
        write_text_atomic(osp.join(work_dir, STEP_FILE),
                          json.dumps(kept, indent=1))
    return kept


def ratios(steps: Dict[str, dict], method: str,
           baseline: str) -> Optional[Dict[str, float]]:
    """``method``'s step time and compute (step x iterations) as ratios to
    ``baseline``'s, or None when either was not timed."""
    own, base = steps.get(method, {}), steps.get(baseline, {})
    if not own.get('median_ms') or not base.get('median_ms'):
        return None
    step = own['median_ms'] / base['median_ms']
    iters = own.get('max_iters', 1) / base.get('max_iters', 1)
    return dict(step=step, compute=step * iters)
