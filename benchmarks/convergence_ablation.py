"""ERA's side of the comparison at the plateau: how far each ERA arm's
approximations M_0..M_K end from the teacher's features (the residual norms
ERA logs, read from the run records' curves), and the ablation suites
(:data:`ABLATION_SUITES`), which set ERA variants against the primary arm
on the plateau schedule. :mod:`benchmarks.convergence` shows both under its
tables.
"""
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

from .convergence import (
    COMPARISON_SUITES,
    Steps,
    arm_label,
    comparison_block,
    versus,
)
from .run_logs import residual_series
from .run_records import RECORDS_DIR, records_of
from .seed_stats import fmt_ms, ok_runs, runs_stat, wall_clock_line
from .suites import SUITES

Runs = Dict[int, dict]


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


def recorded_rows(config: str, records_dir: str = RECORDS_DIR
                  ) -> List[List[dict]]:
    """The curve rows of each finished recorded seed of ``config`` (the
    seeds its mAP is averaged over)."""
    return [(record.get('curves') or {}).get('rows') or []
            for _, _, record in records_of(config, records_dir)
            if 'mAP' in (record.get('run') or {})]


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
            'ERA\'s residual norms ||T - M_k|| / ||T|| after each branch, '
            'k = 0, 1, ... as logged (K = 0 is emulated with one idle '
            'branch), at the last step, mean over levels and seeds: ' +
            '; '.join(parts) + '.')


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
                     fmt_ms(runs_stat(arm, 'mAP'), count=False),
                     fmt_ms(runs_stat(arm, 'val_mAP'), count=False)]
            cells += ['', '', ''] if method == spec.reference else versus(
                ref, arm)
            lines.append('| ' + ' | '.join(cells) + ' |')
        residuals = residual_line(suite, records_dir)
        lines += [''] + ([residuals, ''] if residuals else [])
        # the reference arm's runs are the comparison's, counted there
        wall = wall_clock_line(runs.get(m, {}) for m in spec.arms)
        lines += [wall, ''] if wall else []
    return lines[:-1]


def convergence_block(results: Dict[str, Dict[str, Runs]],
                      records_dir: str = RECORDS_DIR,
                      steps: Optional[Steps] = None) -> List[str]:
    """The documentation's ``convergence`` block: the comparison tables
    (each arm's training compute from ``steps``), each with its ERA arms'
    residual norms, then the ablation tables."""
    notes = {suite: residual_line(suite, records_dir)
             for suite in COMPARISON_SUITES}
    ablations = ablation_block(results, records_dir)
    return comparison_block(results, notes=notes, steps=steps) + (
        [''] + ablations if ablations else [])
