"""The train-step ratios (and deployed cost) of the results tables.

The tables' wall-clock column mixes in whatever else the machine ran; the
step ratio does not: each config of a suite is timed in a child process of
its own (``python -m benchmarks.step_times CONFIG``: a few training steps on
the config's first real batch after untimed warm-up,
:func:`mmera.analysis.step_timer.config_step_times`, and the deployed
model's parameters and FLOPs per image, :mod:`mmera.analysis.flops`), the
configs in rotated orders over ``rounds`` sweeps
(:func:`benchmarks.children.sweep`), and the medians kept in
``<work_dir>/step_times.json`` (``suite -> method -> {median_ms, p25_ms,
p75_ms, max_iters, params_m, gflops}``, and ``baseline``, the plain
student timed beside a method timed apart from its suite), which the tables
read. Measure on an otherwise idle machine.
"""
import argparse
import json
import os.path as osp
import sys
from typing import Dict, Optional, Sequence

from mmera.utils.atomic_files import write_text_atomic

from .children import emit, sweep
from .paths import REPO_ROOT, repo_path
from .suites import BASELINE, SUITES

#: The marker of the child's result line.
MARK = 'CONFIG_STEP_RESULT '
#: Where the tables' step times are, in the results' work dir.
STEP_FILE = 'step_times.json'
_KEEP = ('median_ms', 'p25_ms', 'p75_ms', 'max_iters', 'params_m', 'gflops',
         'error')


def load_step_times(work_dir: str) -> Dict[str, Dict[str, dict]]:
    """The step times kept in ``work_dir`` (empty without any)."""
    try:
        with open(osp.join(work_dir, STEP_FILE)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def measure_step_times(suites: Sequence[str], work_dir: str,
                       rounds: int = 4, iters: int = 6, points: int = 2,
                       methods: Optional[Sequence[str]] = None
                       ) -> Dict[str, Dict[str, dict]]:
    """Times every config of ``suites`` (or only ``methods``, beside the
    plain student) and keeps the medians with those measured before.

    A method timed without the rest of its suite keeps the plain student of
    its own sweep (``baseline``: its ``median_ms`` and ``max_iters``): its
    ratios compare two configs timed side by side, and the suite's other
    entries, the plain student's included, stay as kept.

    Args:
        suites: Keys of :data:`SUITES`.
        work_dir: The results' work dir (``step_times.json`` goes there).
        rounds: Rotated sweeps over a suite's configs.
        iters: Timed steps per schedule point and round.
        points: Schedule points (distillers may change along it).
        methods: The methods to time beside the plain student (default:
            the whole suite); a suite with none of them but the plain
            student is skipped.

    Returns:
        dict: Everything kept, ``suite -> method -> times``.
    """
    kept = load_step_times(work_dir)
    for suite in suites:
        configs = SUITES[suite].configs()
        names = [m for m in configs if methods is None or m == BASELINE
                 or m in methods]
        if names == [BASELINE] and methods is not None:
            continue
        # a suite timed before keeps its plain student's entry
        apart = methods is not None and bool(kept.get(suite))

        def command(method: str) -> list:
            return [sys.executable, '-m', 'benchmarks.step_times',
                    repo_path(configs[method]), '--iters', str(iters),
                    '--points', str(points)]

        timed = {m: {k: r[k] for k in _KEEP if k in r}
                 for m, r in sweep(names, rounds, command, MARK).items()}
        if apart:
            base = timed.pop(BASELINE)
            beside = {k: base[k] for k in ('median_ms', 'max_iters')
                      if k in base}
            kept[suite].update({
                m: dict(t, baseline=beside) if 'median_ms' in beside else
                dict(error='the plain student timed beside it failed: '
                     f"{base.get('error')}")
                for m, t in timed.items()})
        else:
            kept[suite] = timed
        write_text_atomic(osp.join(work_dir, STEP_FILE),
                          json.dumps(kept, indent=1))
    return kept


def ratios(steps: Dict[str, dict], method: str,
           baseline: str) -> Optional[Dict[str, float]]:
    """``method``'s step time and compute (step x iterations) as ratios to
    ``baseline``'s (the one timed beside it, where it was timed apart from
    its suite), or None when either was not timed."""
    own = steps.get(method, {})
    base = own.get('baseline') or steps.get(baseline, {})
    if not own.get('median_ms') or not base.get('median_ms'):
        return None
    step = own['median_ms'] / base['median_ms']
    iters = own.get('max_iters', 1) / base.get('max_iters', 1)
    return dict(step=step, compute=step * iters)


def step_ratio(steps: Dict[str, Dict[str, dict]], suite: str, method: str,
               key: str = 'step') -> Optional[float]:
    """``method``'s ``'step'`` or ``'compute'`` ratio to the plain student
    of ``suite`` in ``steps`` (``suite -> method -> times``), or None."""
    r = ratios(steps.get(suite, {}), method, BASELINE)
    return None if r is None else r[key]


def config_cost(config: str, iters: int, points: int) -> dict:
    """One config's step times and its deployed model's cost (the child's
    result): ``times_ms``, ``max_iters``, ``params_m`` and ``gflops`` (the
    distiller's student at the config's test size)."""
    from mmera.analysis.flops import count_params, detector_flops
    from mmera.analysis.step_timer import build_model, config_step_times
    result = config_step_times(config, iters, points)
    cfg, model = build_model(config)
    deployed = getattr(model, 'student', model)
    size = max(cfg.get('img_scale', (320, 320)))
    return dict(result, params_m=count_params([deployed]) / 1e6,
                gflops=detector_flops(deployed, size) / 1e9)


def main(argv: Optional[Sequence[str]] = None) -> None:
    """The child: ``python -m benchmarks.step_times CONFIG`` prints one
    line, ``CONFIG_STEP_RESULT {json}`` (see :func:`config_cost`)."""
    parser = argparse.ArgumentParser(
        description="One config's train-step times and deployed cost.")
    parser.add_argument('config')
    parser.add_argument('--iters', type=int, default=4,
                        help='timed steps per schedule point')
    parser.add_argument('--points', type=int, default=2,
                        help='schedule points timed')
    args = parser.parse_args(argv)
    emit(MARK, config_cost(osp.join(REPO_ROOT, args.config), args.iters,
                           args.points))


if __name__ == '__main__':
    main()
