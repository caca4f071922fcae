"""The README's recommendation: what to train, read from the run records.

For each regime (a short schedule from scratch; the plain student's
plateau, per pair whose plateau is decided) the block names the arm with
the highest mean report mAP and its training compute as a ratio to the
plain student's, says whether it is above the next best arm by the tables'
rule ("above": every paired difference > 0 and their mean above both arms'
std), and, where it costs more, does the same among the arms that train at
about the plain student's compute (at most :data:`SAME_COMPUTE` times).
Nothing is typed by hand: a regime without records says so, and arms
without two seeds in common are not ranked.
"""
from typing import Dict, List, Optional

from .convergence_summary import PAIRS, plateau_suite
from .seed_stats import compare, fmt_ms, ok_runs, runs_stat
from .step_times import step_ratio
from .suites import BASELINE

Runs = Dict[int, dict]
Results = Dict[str, Dict[str, Runs]]

#: the short-schedule regime: its suite and its words
SHORT = ('synthetic-retinanet',
         'A short schedule (500 iterations from scratch, synthetic RetinaNet)')
#: the most training compute, as a ratio to the plain student's, that
#: counts as "the plain student's compute"
SAME_COMPUTE = 1.1
#: every arm's name in the recommendation
NAMES = {
    BASELINE: 'the plain student',
    'cost-matched': "the plain student trained for ERA's compute",
    'head-init': 'the head-initialised student',
    'fitnet': 'FitNet', 'pkd': 'PKD', 'crosskd': 'CrossKD', 'ld': 'LD',
    'era': 'full ERA', 'era-fast': 'ERA at its defaults (era-fast)',
    'era-fast-headinit': "era-fast with the teacher's head in the student"}


def _name(method: str) -> str:
    if method.startswith('student-') and method.endswith('it'):
        return 'the plain student trained twice as long'
    return NAMES.get(method, method)


def _compute(steps: Dict, suite: str, method: str) -> Optional[float]:
    if method == BASELINE:
        return 1.0
    return step_ratio(steps, suite, method, 'compute')


def _arm(runs: Results, steps: Dict, suite: str, method: str) -> str:
    """``PKD (0.302 +- 0.032 over 3 seeds, 1.61x compute)``."""
    stat = runs_stat(runs[method], 'mAP')
    seeds = len(ok_runs(runs[method], 'mAP'))
    compute = _compute(steps, suite, method)
    cost = ('compute not timed' if compute is None
            else f'{compute:.2f}x compute')
    return (f'{_name(method)} ({fmt_ms(stat, count=False)} over {seeds} '
            f'seed{"s" if seeds > 1 else ""}, {cost})')


def _ranking(runs: Dict[str, Runs], steps: Dict, suite: str,
             ranked: List[str]) -> str:
    """The first of ``ranked`` against the second, by the rule, said no
    more strongly than the seeds allow."""
    best = _arm(runs, steps, suite, ranked[0])
    if len(ranked) < 2:
        return best
    nxt = _arm(runs, steps, suite, ranked[1])
    above = compare(runs[ranked[1]], runs[ranked[0]], 'mAP')['above']
    if above:
        return f'{best}, above the next best, {nxt}'
    if above is False:
        return f'{best}, not above the next best by the rule, {nxt}'
    return (f'{best} so far, not yet ranked against the next best (it '
            f'needs two seeds that both have), {nxt}')


def pick(runs: Dict[str, Runs], steps: Dict, suite: str) -> List[str]:
    """The sentence parts for one suite: the highest arm against the next,
    and, where that costs more, the highest at the plain student's compute
    against its next."""
    arms = {m: runs_stat(r, 'mAP') for m, r in runs.items()}
    ranked = sorted((m for m, s in arms.items() if s),
                    key=lambda m: -arms[m]['mean'])
    if not ranked:
        return []
    parts = [_ranking(runs, steps, suite, ranked)]
    cheap = [m for m in ranked
             if (_compute(steps, suite, m) or 2 * SAME_COMPUTE)
             <= SAME_COMPUTE]
    if cheap and cheap[0] != ranked[0]:
        parts.append("at the plain student's compute, " +
                     _ranking(runs, steps, suite, cheap))
    return parts


def recommendation_block(results: Results, steps: Dict) -> List[str]:
    """The ``recommendation`` block's lines, one bullet per regime.

    Args:
        results: ``suite -> method -> seed -> run`` of the short-schedule
            suite, the plateau suites and the comparison suites.
        steps: The suites' step times (``suite -> method -> times``).
    """
    regimes = [SHORT]
    for detector, (plateau, name) in PAIRS.items():
        its, suite = plateau_suite(detector, results)
        if suite is not None:
            regimes.append((suite, f"The student's plateau ({name}, {its} "
                            f'iterations at 192 px)'))
    lines = []
    for suite, title in regimes:
        parts = pick(results.get(suite, {}), steps, suite)
        text = ('highest report mAP: ' + '; '.join(parts) if parts
                else 'no runs recorded yet')
        lines.append(f'- **{title}** (`{suite}`): {text}.')
    return lines
