"""The README's summary of the comparison at the plain student's plateau.

For each pair studied at 192 px, the plateau is read from its plateau
suite's records (:func:`benchmarks.plateau.plateau_of`); the comparison
suite on that schedule (:data:`benchmarks.convergence.COMPARISON_SUITES`)
gives two columns: each arm's report mAP over seeds and whether the
primary ERA arm is above it by the tables' rule, and the arm's training
compute as a ratio to the plain student's. Under the table, per pair, the
control's word on the plateau and the primary arm's verdict
(:mod:`benchmarks.convergence`). Nothing is typed by hand: a pair whose
plateau or comparison has no records says so.
"""
from typing import Dict, List, Optional, Tuple

from .convergence import (
    ARM_LABELS,
    COMPARISON_SUITES,
    Steps,
    compute_cell,
    plateau_check,
    verdict,
)
from .plateau import lengths, plateau_of, plateau_word
from .results_table import LABELS
from .seed_stats import compare, fmt_ms, runs_stat
from .suites import BASELINE

Runs = Dict[int, dict]

#: detector -> (its plateau suite at 192 px, its name in the summary)
PAIRS: Dict[str, Tuple[str, str]] = {
    'retinanet': ('synthetic-retinanet-plateau-192', 'RetinaNet'),
    'gfl': ('synthetic-gfl-plateau-192', 'GFL'),
}
#: the rows: an arm's role (the control is named per suite) and its label
ROLES = {BASELINE: 'plain student',
         'control': 'plain student, 2x schedule',
         'head-init': 'head-initialised student',
         'pkd': LABELS['pkd'],
         'era-fast': ARM_LABELS['era-fast'],
         'era-fast-headinit': ARM_LABELS['era-fast-headinit']}


def plateau_suite(detector: str, results: Dict[str, Dict[str, Runs]]
                  ) -> Tuple[Optional[int], Optional[str]]:
    """``detector``'s plateau length and the comparison suite on it (None
    for what is not decided or not defined)."""
    its = plateau_of(lengths(PAIRS[detector][0], results))
    suite = f'synthetic-{detector}-{its}it-192'
    return its, suite if its and suite in COMPARISON_SUITES else None


def _cell(runs: Dict[str, Runs], method: str, primary: str) -> str:
    arm = runs.get(method, {})
    stat = runs_stat(arm)
    if stat is None:
        return '-'
    text = fmt_ms(stat, count=False)
    if method == primary or not runs.get(primary):
        return f'**{text}**' if method == primary else text
    above = compare(arm, runs[primary], 'mAP')['above']
    if above is None:
        return text
    return f'{text} ({primary} {"above" if above else "not above"})'


def summary_block(results: Dict[str, Dict[str, Runs]],
                  steps: Optional[Steps] = None) -> List[str]:
    """The ``convergence-summary`` block's lines.

    Args:
        results: ``suite -> method -> seed -> run`` of the plateau and
            comparison suites (the run records).
        steps: The suites' step times (``suite -> method -> times``).
    """
    columns, notes = [], []
    for detector, (plateau, name) in PAIRS.items():
        its, suite = plateau_suite(detector, results)
        if suite is None:
            notes.append(f'{name}: ' + (
                f'no comparison suite at its plateau ({its} iterations).'
                if its else f'plateau (`{plateau}`) ' + plateau_word(
                    lengths(plateau, results))))
            continue
        columns.append((f'{name}, {its} it', suite))
        spec = COMPARISON_SUITES[suite]
        runs = results.get(suite, {})
        notes.append(f'{name} ({its} iterations, `{suite}`): ' +
                     plateau_check(runs.get(BASELINE, {}),
                                   runs.get(spec.control, {})) + ' ' +
                     verdict(runs, spec))
    if not columns:
        return [f'- {n}' for n in notes]
    lines = ['| arm | ' + ' | '.join(f'{t} | compute x plain'
                                     for t, _ in columns) + ' |',
             '|---|' + '---:|---:|' * len(columns)]
    for role, label in ROLES.items():
        cells = []
        for _, suite in columns:
            spec = COMPARISON_SUITES[suite]
            method = spec.control if role == 'control' else role
            runs = results.get(suite, {})
            cells += [_cell(runs, method, spec.primary),
                      compute_cell(steps, suite, method)]
        if any(c != '-' for c in cells[::2]):
            lines.append(f'| {label} | ' + ' | '.join(cells) + ' |')
    return lines + [''] + [f'- {n}' for n in notes]
