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
control and the strongest peer, and how far each ERA arm's approximations
M_0..M_K end from the teacher's features (its logged residual norms).
The ablation suites (:data:`ABLATION_SUITES`) set ERA variants against the
primary arm at the plateau.
"""
import glob
import json
import os.path as osp
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

from .results_table import LABELS
from .run_logs import residual_series
from .run_records import RECORDS_DIR
from .seed_stats import (
    compare,
    fmt_above,
    fmt_diffs,
    fmt_ms,
    mean_std,
    ok_runs,
)
from .suites import BASELINE, SUITES

Runs = Dict[int, dict]


@dataclass(frozen=True)
class Comparison:
    """What a comparison suite's block reads.

    Attributes:
        title: The pair and its resolution, for the block's heading.
        control: The method of the plain student at twice the schedule.
        primary: The ERA arm the verdict is about (fixed before the runs).
        peers: The methods the primary arm must beat (the strongest one by
            mean report mAP is named in the verdict).
    """
    title: str
    control: str
    primary: str
    peers: Sequence[str]


#: suite -> what its block reads; a suite without records shows its arms
#: with no runs
COMPARISON_SUITES: Dict[str, Comparison] = {
    f'synthetic-{det}-{n}it-192': Comparison(
        f'{name} R34 x1/2 -> R18 x1/4 at 192 px, {n} iterations',
        control=f'student-{2 * n}it', primary='era-fast', peers=peers)
    for det, name, peers in (('retinanet', 'RetinaNet', ('head-init', 'pkd')),
                             ('gfl', 'GFL', ('head-init', )))
    for n in (8000, 16000)
}

@dataclass(frozen=True)
class Ablation:
    """What an ablation suite's table reads.

    Attributes:
        title: The pair, its resolution and schedule.
        reference: The ERA arm the variants are set against.
        arms: Each variant's method and what it changes.
    """
    title: str
    reference: str
    arms: Dict[str, str] = field(default_factory=dict)


#: suite -> what its ablation table reads
ABLATION_SUITES: Dict[str, Ablation] = {
    'synthetic-retinanet-16000it-192-ablations': Ablation(
        'RetinaNet R34 x1/2 -> R18 x1/4 at 192 px, 16000 iterations',
        reference='era-fast',
        arms={'era-fast-k0': 'K = 0: TWI on P(S) alone, no residual '
              'branches'}),
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


def _stat(runs: Runs, key: str):
    return mean_std([r[key] for r in ok_runs(runs, key).values()])


def _versus(base: Runs, runs: Runs) -> List[str]:
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
    stats = {p: _stat(results.get(p) or {}, 'mAP') for p in peers}
    scored = [(stat['mean'], p) for p, stat in stats.items() if stat]
    return max(scored)[1] if scored else None


def verdict(results: Dict[str, Runs], spec: Comparison) -> str:
    """Where the primary arm stands: above the plain student, the control
    and the strongest peer, or not (``-``: too few seeds)."""
    primary = results.get(spec.primary)
    if not primary:
        return f'{arm_label(spec.primary, spec.control)}: no runs yet.'
    peer = strongest_peer(results, spec.peers)
    rivals = [(BASELINE, 'the plain student'),
              (spec.control, 'the 2x-schedule student')]
    if peer:
        rivals.append((peer, f'the strongest peer ({arm_label(peer, "")})'))
    parts = []
    for method, name in rivals:
        above = compare(results.get(method, {}), primary, 'mAP')['above']
        parts.append(f'{name}: ' + ('-' if above is None else
                                   'above' if above else 'not above'))
    return (f'{arm_label(spec.primary, spec.control)} against ' +
            '; '.join(parts) + '.')


def recorded_rows(config: str, records_dir: str = RECORDS_DIR
                  ) -> List[List[dict]]:
    """The curve rows of each recorded seed of ``config``."""
    name = osp.splitext(osp.basename(config))[0]
    out = []
    for path in sorted(glob.glob(osp.join(glob.escape(records_dir),
                                          glob.escape(name) + '_seed*.json'))):
        with open(path) as f:
            record = json.load(f)
        if record.get('key', {}).get('config') == config:
            out.append((record.get('curves') or {}).get('rows') or [])
    return out


def final_residuals(runs: Sequence[Sequence[dict]]) -> Optional[List[float]]:
    """ERA's residual norm ``||T - M_k|| / ||T||`` for k = 0..K at each
    run's last logged step, averaged over the levels, then over the runs
    (None when no run logged them)."""
    per_run = []
    for rows in runs:
        series = residual_series(rows)
        ks = sorted({k for k, _ in series})
        per_run.append([
            sum(s[max(s)] for (j, _), s in series.items() if j == k) /
            sum(1 for j, _ in series if j == k) for k in ks])
    per_run = [r for r in per_run if r]
    if not per_run or len({len(r) for r in per_run}) > 1:
        return None
    return [sum(col) / len(col) for col in zip(*per_run)]


def residual_line(suite: str, records_dir: str = RECORDS_DIR) -> str:
    """Where each ERA arm of ``suite`` ends: its :func:`final_residuals`
    (empty when no arm logged them)."""
    parts = []
    for method, config in SUITES[suite].methods.items():
        norms = final_residuals(recorded_rows(config, records_dir))
        if norms:
            parts.append(f'{arm_label(method, "")} ' +
                         ' / '.join(f'{v:.3f}' for v in norms))
    return ('' if not parts else
            'ERA\'s residual norms ||T - M_k|| / ||T||, k = 0..K, at the '
            'last step (mean over levels and seeds): ' + '; '.join(parts) +
            '.')


def ablation_block(results: Dict[str, Dict[str, Runs]],
                   records_dir: str = RECORDS_DIR) -> List[str]:
    """Each ablation suite's variants against its reference arm (report
    mAP, paired by seed, by the tables' rule), and their residual norms."""
    lines: List[str] = []
    for suite, spec in ABLATION_SUITES.items():
        runs = results.get(suite, {})
        ref = runs.get(spec.reference, {})
        lines += [f'**Ablation: {spec.title}** (`{suite}`):', '',
                  f'| arm | changes | seeds | report mAP | val mAP | '
                  f'- {spec.reference} | per seed | above {spec.reference} |',
                  '| --- | --- | --- | --- | --- | --- | --- | --- |']
        for method, change in {spec.reference: 'the reference',
                               **spec.arms}.items():
            arm = runs.get(method, {})
            cells = [arm_label(method, ''), change, str(len(ok_runs(arm))),
                     fmt_ms(_stat(arm, 'mAP'), count=False),
                     fmt_ms(_stat(arm, 'val_mAP'), count=False)]
            cells += ['', '', ''] if method == spec.reference else _versus(
                ref, arm)
            lines.append('| ' + ' | '.join(cells) + ' |')
        residuals = residual_line(suite, records_dir)
        lines += [''] + ([residuals, ''] if residuals else [])
    return lines[:-1]


def comparison_block(results: Dict[str, Dict[str, Runs]],
                     comparisons: Optional[Dict[str, Comparison]] = None,
                     records_dir: str = RECORDS_DIR) -> List[str]:
    """The ``convergence`` block's lines (then :func:`ablation_block`'s
    when the default suites are shown).

    Args:
        results: ``suite -> method -> seed -> run`` (the run records).
        comparisons: The suites to show (default
            :data:`COMPARISON_SUITES`).
        records_dir: Where the runs' records (and their curves) are.
    """
    lines: List[str] = []
    for suite, spec in (comparisons or COMPARISON_SUITES).items():
        runs = results.get(suite, {})
        base = runs.get(BASELINE, {})
        control = runs.get(spec.control, {})
        lines += [f'**{spec.title}** (`{suite}`):', '',
                  '| arm | seeds | report mAP | val mAP | - plain | per seed '
                  '| above plain | - 2x plain | per seed | above 2x plain |',
                  '| --- | --- | --- | --- | --- | --- | --- | --- | --- | '
                  '--- |']
        for method in SUITES[suite].configs():
            arm = runs.get(method, {})
            cells = [arm_label(method, spec.control),
                     str(len(ok_runs(arm))),
                     fmt_ms(_stat(arm, 'mAP'), count=False),
                     fmt_ms(_stat(arm, 'val_mAP'), count=False)]
            cells += ['', '', ''] if method == BASELINE else _versus(
                base, arm)
            cells += ['', '', ''] if method == spec.control else _versus(
                control, arm)
            lines.append('| ' + ' | '.join(cells) + ' |')
        lines += ['', plateau_check(base, control), '',
                  verdict(runs, spec), '']
        residuals = residual_line(suite, records_dir)
        lines += [residuals, ''] if residuals else []
    if comparisons is None:
        lines += ablation_block(results, records_dir) + ['']
    return lines[:-1]
