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

from .convergence import COMPARISON_SUITES, Steps
from .convergence_summary import PAIRS, ROLES, plateau_suite
from .docs_tables import SUMMARY_METHODS
from .seed_stats import compare, fmt_ms, runs_stat
from .step_times import step_ratio
from .suites import BASELINE

Runs = Dict[int, dict]
Results = Dict[str, Dict[str, Runs]]

#: the short-schedule regime: its suite and its pair
SHORT = ('synthetic-retinanet', 'synthetic RetinaNet')
#: the most training compute, as a ratio to the plain student's, that
#: counts as "the plain student's compute"
SAME_COMPUTE = 1.1


def arm_name(suite: str, method: str) -> str:
    """``method``'s label in the README table that shows ``suite``."""
    spec = COMPARISON_SUITES.get(suite)
    if spec is None:
        return SUMMARY_METHODS.get(method, method).strip('*')
    role = 'control' if method == spec.control else method
    return ROLES.get(role, method)


def _compute(steps: Steps, suite: str, method: str) -> Optional[float]:
    if method == BASELINE:
        return 1.0
    return step_ratio(steps, suite, method, 'compute')


def _arm(runs: Dict[str, Runs], steps: Steps, suite: str,
         method: str) -> str:
    """``PKD (0.302 +- 0.032 over 3 seeds, 1.61x compute)``."""
    stat = runs_stat(runs[method], 'mAP')
    compute = _compute(steps, suite, method)
    cost = ('compute not timed' if compute is None
            else f'{compute:.2f}x compute')
    seeds = f'{stat["n"]} seed{"s" if stat["n"] > 1 else ""}'
    return (f'{arm_name(suite, method)} ({fmt_ms(stat, count=False)} over '
            f'{seeds}, {cost})')


def _ranking(runs: Dict[str, Runs], steps: Steps, suite: str,
             ranked: List[str], among: str = '') -> str:
    """The first of ``ranked`` and, by the rule, where it stands against
    each of the others (``among``: what they are, for the wording): said no
    more strongly than the seeds allow."""
    best, others = ranked[0], ranked[1:]
    words: Dict[str, List[str]] = {'above': [], 'not above': [],
                                   'not yet ranked against': []}
    for other in others:
        above = compare(runs[other], runs[best], 'mAP')['above']
        word = ('above' if above else 'not above' if above is False
                else 'not yet ranked against')
        words[word].append(arm_name(suite, other))
    text = _arm(runs, steps, suite, best)
    if others and len(words['above']) == len(others):
        return f'{text}, above every other arm{among}'
    parts = [f'{w} {" / ".join(names)}' for w, names in words.items()
             if names]
    if words['not yet ranked against']:
        parts[-1] += ' (it needs two seeds that both arms have)'
    return ', '.join([text, *parts])


def pick(runs: Dict[str, Runs], steps: Steps, suite: str) -> List[str]:
    """The highest arm of ``suite`` and its standing; where it costs more
    than the plain student, the same among the arms timed at about the
    plain student's compute.

    Args:
        runs: ``method -> seed -> run`` of the suite.
        steps: The suites' step times (``suite -> method -> times``).
        suite: The suite's key (for the step times and the arms' names).

    Returns:
        list[str]: The sentence's parts (none without runs).
    """
    arms = {m: runs_stat(r, 'mAP') for m, r in runs.items()}
    ranked = sorted((m for m, s in arms.items() if s),
                    key=lambda m: -arms[m]['mean'])
    if not ranked:
        return []
    parts = [_ranking(runs, steps, suite, ranked)]
    computes = {m: _compute(steps, suite, m) for m in ranked}
    cheap = [m for m in ranked
             if computes[m] is not None and computes[m] <= SAME_COMPUTE]
    if cheap and cheap[0] != ranked[0]:
        untimed = [arm_name(suite, m) for m in ranked if computes[m] is None]
        parts.append(f"at the plain student's compute (at most "
                     f'{SAME_COMPUTE}x{"; not timed: " if untimed else ""}'
                     f'{", ".join(untimed)}), ' +
                     _ranking(runs, steps, suite, cheap, ' at that compute'))
    return parts


def recommendation_block(results: Results, steps: Steps) -> List[str]:
    """The ``recommendation`` block's lines.

    Args:
        results: ``suite -> method -> seed -> run`` of the short-schedule
            suite, the plateau suites and the comparison suites.
        steps: The suites' step times (``suite -> method -> times``).

    Returns:
        list[str]: One bullet per regime: the short schedule, then each
        pair whose plateau is decided.
    """
    suite, pair = SHORT
    its = steps.get(suite, {}).get(BASELINE, {}).get('max_iters')
    regimes = [(suite, f'A short schedule ({its} iterations from scratch, '
                f'{pair})' if its else f'A short schedule ({pair})')]
    for detector, (_, name) in PAIRS.items():
        its, plateau = plateau_suite(detector, results)
        if plateau is not None:
            regimes.append((plateau, f"The student's plateau ({name}, {its} "
                            'iterations at 192 px)'))
    lines = []
    for suite, title in regimes:
        parts = pick(results.get(suite, {}), steps, suite)
        text = ('highest report mAP: ' + '; '.join(parts) if parts
                else 'no runs recorded yet')
        lines.append(f'- **{title}** (`{suite}`): {text}.')
    return lines
