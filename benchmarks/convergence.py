"""The comparison at the plain student's plateau, from the run records of
the comparison suites (:data:`COMPARISON_SUITES`).

Every arm of a comparison suite trains on the plateau schedule (the
shortest length whose double no longer adds 0.01 val mAP,
:mod:`benchmarks.plateau`); the plain student trained twice as long is the
compute control. :func:`comparison_block` is the documentation's
``convergence`` block: per suite, each arm's report and val mAP over seeds
and its paired differences to the plain student and to the control, by the
rule of the results tables ("above": every paired difference > 0 and their
mean above both methods' std); then whether the control confirms the
plateau, where the primary ERA arm stands against the plain student, the
control and the strongest peer; under each table a note per suite (ERA's
residual norms, :mod:`benchmarks.convergence_ablation`).
"""
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

from .results_table import LABELS
from .seed_stats import (
    compare,
    fmt_above,
    fmt_diffs,
    fmt_ms,
    ok_runs,
    runs_stat,
    wall_clock_line,
)
from .step_times import step_ratio
from .suites import BASELINE, SUITES

Runs = Dict[int, dict]
#: ``suite -> method -> step times`` (``docs/results/runs/step_times.json``)
Steps = Dict[str, Dict[str, dict]]


@dataclass(frozen=True)
class Comparison:
    """What a comparison suite's block reads.

    Attributes:
        title: The pair and its resolution, for the block's heading.
        control: The method of the plain student at twice the schedule.
        primary: The ERA arm the verdict is about (fixed before the runs).
        peers: The methods the primary arm must beat (the strongest one by
            mean report mAP is named in the verdict).
        others: The other ERA settings the verdict reads the same way.
    """
    title: str
    control: str
    primary: str
    peers: Sequence[str]
    others: Sequence[str] = ()


#: suite -> what its block reads; a suite without records shows its arms
#: with no runs
COMPARISON_SUITES: Dict[str, Comparison] = {
    f'synthetic-{det}-{n}it-192': Comparison(
        f'{name} R34 x1/2 -> R18 x1/4 at 192 px, {n} iterations',
        control=f'student-{2 * n}it', primary='era-fast', peers=peers,
        others=others)
    for det, name, peers, others in (
        ('retinanet', 'RetinaNet', ('head-init', 'pkd'),
         ('era-fast-headinit', )),
        ('gfl', 'GFL', ('head-init', ), ('era-fast-headinit', )))
    for n in (8000, 16000)
}

#: the arms' labels beyond the results tables'
ARM_LABELS = {
    'era-fast': "ERA's cheap setting (era-fast)",
    'era-fast-headinit': 'era-fast + teacher head',
    'era': 'ERA, exact TWI',
    'era-fast-k0': 'era-fast with K = 0'}


def arm_label(method: str, control: str) -> str:
    """An arm's name in the block."""
    if method == BASELINE:
        return 'plain student'
    if method == control:
        return 'plain student, 2x schedule (compute control)'
    return ARM_LABELS.get(method, LABELS.get(method, method))


def compute_cell(steps: Optional[Steps], suite: str, method: str) -> str:
    """``method``'s training compute (train step x iterations) as a ratio to
    the plain student's of ``suite``, ``-`` where either was not timed
    (``python -m benchmarks --suites SUITE --report-only --step-times``
    times them)."""
    ratio = step_ratio(steps or {}, suite, method, 'compute')
    return '-' if ratio is None else f'{ratio:.2f}x'


def versus(base: Runs, runs: Runs) -> List[str]:
    """The difference, per-seed differences and verdict cells of ``runs``
    against ``base`` (report mAP)."""
    if not base or not runs:
        return ['-', '-', '-']
    vs = compare(base, runs, 'mAP')
    return [fmt_ms(vs['diff'], signed=True, count=False),
            fmt_diffs(vs['diffs']), fmt_above(vs['above'])]


def plateau_check(base: Runs, control: Runs) -> str:
    """What the control says of the plateau: its report mAP against the
    plain student's, inside or outside the seeds' spread."""
    diffs = compare(base, control, 'mAP')
    if len(diffs['diffs']) < 2:
        return ('The compute control is not decided yet (it needs two seeds '
                'that both runs have).')
    gain = fmt_ms(diffs['diff'], signed=True, count=False)
    if diffs['above']:
        return (f'The plain student trained twice as long is above it '
                f'({gain} report mAP): the schedule is not yet the plateau.')
    if compare(control, base, 'mAP')['above']:
        return (f'The plain student trained twice as long is below it '
                f'({gain} report mAP): longer training overfits.')
    return (f'Training the plain student twice as long changes its report '
            f'mAP by {gain}, inside the seeds\' spread: the plateau holds.')


def strongest_peer(results: Dict[str, Runs],
                   peers: Sequence[str]) -> Optional[str]:
    """The peer with the highest mean report mAP, or None."""
    stats = {p: runs_stat(results.get(p) or {}, 'mAP') for p in peers}
    scored = [(s['mean'], p) for p, s in stats.items() if s]
    return max(scored)[1] if scored else None


def verdict(results: Dict[str, Runs], spec: Comparison) -> str:
    """Where the primary arm (then each other ERA setting with runs)
    stands: above the plain student, the control and the strongest peer,
    or not, over how many paired seeds (not decided below two)."""
    if not results.get(spec.primary):
        return f'{arm_label(spec.primary, spec.control)}: no runs yet.'
    peer = strongest_peer(results, spec.peers)
    rivals = [(BASELINE, 'the plain student'),
              (spec.control, 'the 2x-schedule student')]
    if peer:
        rivals.append((peer, f'the strongest peer ({arm_label(peer, "")})'))
    lines = []
    for arm in (spec.primary, *spec.others):
        if not results.get(arm):
            continue
        parts = []
        for method, name in rivals:
            vs = compare(results.get(method, {}), results[arm], 'mAP')
            paired = len(vs['diffs'])
            parts.append(f'{name}: ' + (
                f'not decided yet ({paired} paired seed'
                f'{"" if paired == 1 else "s"}, it needs two)'
                if vs['above'] is None else
                ('above' if vs['above'] else 'not above') +
                f' ({paired} seeds)'))
        lines.append(f'{arm_label(arm, spec.control)} against ' +
                     '; '.join(parts) + '.')
    return ' '.join(lines)


def comparison_block(results: Dict[str, Dict[str, Runs]],
                     comparisons: Optional[Dict[str, Comparison]] = None,
                     notes: Optional[Dict[str, str]] = None,
                     steps: Optional[Steps] = None) -> List[str]:
    """The comparison tables' lines (the ``convergence`` block's first part).

    Args:
        results: ``suite -> method -> seed -> run`` (the run records).
        comparisons: The suites to show (default
            :data:`COMPARISON_SUITES`).
        notes: A line to add under a suite's table, by suite.
        steps: The suites' step times, for each arm's training compute.
    """
    lines: List[str] = []
    for suite, spec in (comparisons or COMPARISON_SUITES).items():
        runs = results.get(suite, {})
        base = runs.get(BASELINE, {})
        control = runs.get(spec.control, {})
        lines += [f'**{spec.title}** (`{suite}`):', '',
                  '| arm | seeds | report mAP | val mAP | train compute x '
                  'plain | - plain | per seed | above plain | - 2x plain | '
                  'per seed | above 2x plain |',
                  '| --- | --- | --- | --- | --- | --- | --- | --- | --- | '
                  '--- | --- |']
        for method in SUITES[suite].configs():
            arm = runs.get(method, {})
            cells = [arm_label(method, spec.control),
                     str(len(ok_runs(arm))),
                     fmt_ms(runs_stat(arm, 'mAP'), count=False),
                     fmt_ms(runs_stat(arm, 'val_mAP'), count=False),
                     compute_cell(steps, suite, method)]
            cells += ['', '', ''] if method == BASELINE else versus(
                base, arm)
            cells += ['', '', ''] if method == spec.control else versus(
                control, arm)
            lines.append('| ' + ' | '.join(cells) + ' |')
        lines += ['', plateau_check(base, control), '',
                  verdict(runs, spec), '']
        wall = wall_clock_line(runs.get(m, {})
                               for m in SUITES[suite].configs())
        lines += [wall, ''] if wall else []
        note = (notes or {}).get(suite)
        lines += [note, ''] if note else []
    return lines[:-1]
