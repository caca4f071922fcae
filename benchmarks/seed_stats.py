"""Statistics over seeds of the benchmark runs, and their table cells.

The benchmark driver (:mod:`benchmarks.results`) holds its finished runs
as ``seed -> run`` dicts, a run being ``{'mAP': ..., 'mAP50': ...,
'train_s': ...}`` (plus what else it records) or ``{'error': ...}``. This
module is what it computes from them: mean +- std over the seeds, the paired
per-seed differences of two methods, whether one is reliably above the
other, and the markdown cells that show these numbers.
"""
import statistics
from typing import Dict, Iterable, Optional, Sequence

#: ``mean``, ``std`` (sample) and ``n`` of a metric over seeds
Stat = Dict[str, float]


def mean_std(values: Sequence[float]) -> Optional[Stat]:
    """The mean and spread of ``values``.

    Args:
        values: One value per seed.

    Returns:
        dict | None: ``mean``, ``std`` (sample, 0 for one value) and ``n``;
        None if ``values`` is empty.
    """
    values = list(values)
    if not values:
        return None
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return dict(mean=statistics.mean(values), std=std, n=len(values))


def ok_runs(runs: Dict[int, dict], key: str = 'mAP') -> Dict[int, dict]:
    """The runs of one method, by seed, that have the metric ``key``.

    Args:
        runs: ``seed -> run``; a failed run has no metric.
        key: The metric a run needs to be kept.

    Returns:
        dict: ``seed -> run``, the finished runs only.
    """
    return {s: r for s, r in runs.items() if key in r}


def runs_stat(runs: Dict[int, dict], key: str = 'mAP') -> Optional[Stat]:
    """:func:`mean_std` of ``key`` over the runs that have it."""
    return mean_std([r[key] for r in ok_runs(runs, key).values()])


def paired_diffs(base: Dict[int, dict], other: Dict[int, dict],
                 key: str) -> Dict[int, float]:
    """``other`` - ``base`` of the metric ``key``, seed by seed.

    Pairing by seed removes what the seed changes for both runs alike (the
    data order, the initialisation), so the differences spread less than
    the two methods' values.

    Args:
        base: ``seed -> run`` of the reference method.
        other: ``seed -> run`` of the compared method.
        key: The metric.

    Returns:
        dict: ``seed -> difference`` for every seed where both runs have
        ``key``, in seed order.
    """
    return {
        seed: other[seed][key] - base[seed][key]
        for seed in sorted(set(base) & set(other))
        if key in base[seed] and key in other[seed]
    }


def is_above(diffs: Dict[int, float], stat: Optional[Stat],
             base_stat: Optional[Stat]) -> Optional[bool]:
    """Whether a method is reliably above a reference method.

    The rule of the results table: every paired difference is positive and
    their mean exceeds the spread over seeds of both methods (a gain
    smaller than the seed noise is not counted, however consistent).

    Args:
        diffs: The paired differences method - reference
            (:func:`paired_diffs`).
        stat: The method's :func:`mean_std` of the metric.
        base_stat: The reference's :func:`mean_std` of the metric.

    Returns:
        bool | None: None when there is nothing to compare: fewer than two
        common seeds (one seed has no spread to beat) or a missing
        statistic.
    """
    if len(diffs) < 2 or stat is None or base_stat is None:
        return None
    mean = statistics.mean(diffs.values())
    return (all(d > 0 for d in diffs.values()) and mean > stat['std']
            and mean > base_stat['std'])


def compare(base: Dict[int, dict], other: Dict[int, dict],
            key: str) -> Dict:
    """``other`` against ``base`` on the metric ``key``.

    Args:
        base: ``seed -> run`` of the reference method.
        other: ``seed -> run`` of the compared method.
        key: The metric.

    Returns:
        dict: ``diffs`` (:func:`paired_diffs`), ``diff`` (their
        :func:`mean_std`) and ``above`` (:func:`is_above`, each method's
        spread taken over its runs with ``key``).
    """
    diffs = paired_diffs(base, other, key)
    stat, base_stat = runs_stat(other, key), runs_stat(base, key)
    return dict(diffs=diffs, diff=mean_std(list(diffs.values())),
                above=is_above(diffs, stat, base_stat))


def fmt_ms(stat: Optional[Stat], signed: bool = False,
           count: bool = True) -> str:
    """``0.123 +- 0.004 (n=3)`` (without ``(n=3)`` when not ``count``),
    ``0.123`` for one value, ``-`` for none."""
    if stat is None:
        return '-'
    sign = '+' if signed else ''
    if stat['n'] == 1:
        return f'{stat["mean"]:{sign}.3f}'
    n = f' (n={stat["n"]})' if count else ''
    return f'{stat["mean"]:{sign}.3f} +- {stat["std"]:.3f}{n}'


def fmt_diffs(diffs: Dict[int, float]) -> str:
    """``s0 +0.012, s1 -0.003``; ``-`` when no seed has both runs."""
    if not diffs:
        return '-'
    return ', '.join(f's{seed} {d:+.3f}' for seed, d in diffs.items())


def fmt_seconds(stat: Optional[Stat]) -> str:
    """The mean of a :func:`mean_std` of seconds in minutes, ``1.5 min``."""
    if stat is None:
        return '-'
    return f'{stat["mean"] / 60:.1f} min'


def wall_clock_line(groups: Iterable[Dict[int, dict]]) -> str:
    """What the runs of a table took to train: their count and the sum of
    their ``train_s``, in hours; ``''`` when no run has a training time.

    Args:
        groups: ``seed -> run`` of each method in the table.
    """
    secs = [r['train_s'] for runs in groups
            for r in ok_runs(runs, 'train_s').values()]
    if not secs:
        return ''
    runs = f'{len(secs)} run' + ('s' if len(secs) > 1 else '')
    return (f'Wall-clock: {runs}, {sum(secs) / 3600:.1f} h of training in '
            "all (the sum of each run's training time as the machine ran "
            'it: pauses and work beside it included).')


def fmt_above(above: Optional[bool]) -> str:
    """``above``, ``no`` or ``-`` (nothing to compare)."""
    return '-' if above is None else ('above' if above else 'no')
