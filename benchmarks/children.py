"""Measurements in child processes, one at a time, in rotated orders.

The benchmark scripts time each model in its own process (timings and peak
memory must not share a process) and repeat the sweep in rotated orders, so a
slow spell of a shared machine hits every model alike. A child prints its
result as one JSON line after a marker; :func:`run_child` reads it back.
"""
import json
import statistics
import subprocess
import sys
from typing import Callable, Dict, Iterator, List, Mapping, Optional, Sequence

from .paths import REPO_ROOT


def emit(mark: str, result: dict) -> None:
    """Prints ``result`` for the parent: ``mark`` then one JSON line."""
    print(mark + json.dumps(result), flush=True)


def run_child(cmd: Sequence[str], mark: str, label: str,
              env: Optional[Mapping[str, str]] = None) -> Dict:
    """Runs one child and returns the result it emitted.

    Args:
        cmd: The child's command line.
        mark: The marker its result line starts with (see :func:`emit`).
        label: Its name in the messages.
        env: Its environment (default: this one).

    Returns:
        dict: The child's result, or ``{'error': <its last stderr line, cut>}``
        when it failed (its stderr's tail then goes to this stderr).
    """
    proc = subprocess.run(list(cmd), capture_output=True, text=True,
                          cwd=REPO_ROOT, env=None if env is None else
                          dict(env))
    lines = [x for x in proc.stdout.splitlines() if x.startswith(mark)]
    if proc.returncode or not lines:
        print(f'{label} failed:\n{proc.stderr[-3000:]}', file=sys.stderr)
        last = (proc.stderr.strip().splitlines() or ['?'])[-1]
        return dict(error=last[:120])
    return json.loads(lines[-1][len(mark):])


def rotations(items: Sequence[str], rounds: int) -> Iterator[List[str]]:
    """``items`` in ``rounds`` orders, round ``r`` rotated by ``r``."""
    items = list(items)
    for r in range(rounds):
        k = r % len(items) if items else 0
        yield items[k:] + items[:k]


def pool(pooled: Dict[str, Dict], name: str, result: Dict,
         max_keys: Sequence[str] = (),
         concat_keys: Sequence[str] = ('times_ms', )) -> None:
    """Adds one round's ``result`` of ``name`` to ``pooled``, in place.

    Per-step lists (``concat_keys``: the step times ``times_ms`` and any
    other per-step record) are concatenated, the ``max_keys`` (e.g. peak
    memory) keep their maximum; a failed round (``error``) wins, so a model
    that failed once is reported as failed.
    """
    prev = pooled.setdefault(name, result)
    if prev is result:
        return
    if 'error' in result or 'error' in prev:
        pooled[name] = prev if 'error' in prev else result
        return
    for key in concat_keys:
        prev[key] = prev[key] + result[key]
    for key in max_keys:
        prev[key] = max(prev[key], result[key])


def add_medians(pooled: Dict[str, Dict]) -> Dict[str, Dict]:
    """Sets ``median_ms``, ``mean_ms`` and the spread, ``p25_ms`` and
    ``p75_ms`` (the interquartile range), of every pooled result with step
    times."""
    for res in pooled.values():
        if 'times_ms' in res:
            times = res['times_ms']
            res['median_ms'] = statistics.median(times)
            res['mean_ms'] = statistics.fmean(times)
            if len(times) > 1:
                res['p25_ms'], _, res['p75_ms'] = statistics.quantiles(
                    times, n=4, method='inclusive')
            else:
                res['p25_ms'] = res['p75_ms'] = times[0]
    return pooled


def sweep(names: Sequence[str], rounds: int,
          command: Callable[[str], List[str]], mark: str,
          env: Optional[Mapping[str, str]] = None,
          max_keys: Sequence[str] = (),
          concat_keys: Sequence[str] = ('times_ms', )) -> Dict[str, Dict]:
    """Measures every name in its own child, ``rounds`` rotated sweeps.

    Args:
        names: What is measured (methods, modes), in the first order.
        rounds: Sweeps; round ``r`` starts ``r`` places later.
        command: The child's command line of a name.
        mark: The marker of the children's result lines.
        env: The children's environment (default: this one).
        max_keys: Result keys pooled by their maximum (see :func:`pool`).
        concat_keys: Per-step result lists pooled by concatenation.

    Returns:
        dict: name -> pooled result, with ``median_ms`` over every round's
        step times, or ``error``.
    """
    pooled: Dict[str, Dict] = {}
    for r, order in enumerate(rotations(names, rounds)):
        for name in order:
            pool(pooled, name, run_child(command(name), mark, name, env),
                 max_keys, concat_keys)
            print(f'done: {name} (round {r + 1})', file=sys.stderr,
                  flush=True)
    return add_medians(pooled)
