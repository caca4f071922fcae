"""The results tables of the documentation (its generated blocks
``results-summary``, ``results-full``, ``results-<dir>``, ``cost-steps`` and
``teacher-curves``), from the run records :mod:`benchmarks.docs` loads."""
import glob
import json
import os.path as osp
import textwrap
from typing import Dict, List, Optional, Tuple

from .paths import REPO_ROOT
from .results_plots import plot_files
from .results_table import ERA, LABELS, suite_markdown, summarize_suite
from .seed_stats import (
    Stat,
    compare,
    fmt_above,
    fmt_diffs,
    fmt_ms,
    ok_runs,
    runs_stat,
)
from .shipped_teachers import shipped_record
from .step_times import ratios, step_ratio
from .suites import BASELINE, MAIN_SUITES, SUITES
from .teachers import _teacher_config_rel, teacher_name

#: Where the plots of ``results-full`` are (beside docs/results/results.md).
PLOTS_DIR = 'docs/results'
#: The suites' short titles.
SUITE_TITLES = {'synthetic-retinanet': 'synthetic RetinaNet',
                'synthetic-gfl': 'synthetic GFL',
                'deepforest-retinanet': 'DeepForest RetinaNet',
                'synthetic-ablations': 'synthetic RetinaNet, ERA ablations',
                'synthetic-retinanet-plateau': 'synthetic RetinaNet plateau',
                'synthetic-retinanet-plateau-192':
                'synthetic RetinaNet plateau, 192 px',
                'synthetic-gfl-plateau': 'synthetic GFL plateau',
                'synthetic-gfl-plateau-192': 'synthetic GFL plateau, 192 px'}
#: The methods of the summary table, in order, with their labels there.
SUMMARY_METHODS = {
    BASELINE: 'plain student (500 it)', 'fitnet': 'FitNet', 'pkd': 'PKD',
    'ld': "LD (mmdet's)", 'crosskd': 'CrossKD', ERA: '**ERA**',
    'era-fast': 'ERA at its defaults (era-fast)',
    'head-init': 'head-initialised student',
    'cost-matched': "cost-matched student (ERA's compute)"}
#: The methods' names in the summary's reading.
VERDICT_NAMES = {BASELINE: 'the plain student', 'fitnet': 'FitNet',
                 'pkd': 'PKD', 'ld': 'LD', 'crosskd': 'CrossKD',
                 'head-init': 'the head-initialised student',
                 'cost-matched': 'the cost-matched (longer-trained) student'}

Results = Dict[str, Dict[str, Dict[int, dict]]]


def teacher_record(suite: str) -> Tuple[str, dict]:
    """The suite's teacher config and the val metrics of its shipped copy
    (``teachers/<name>.json``; empty when none is shipped)."""
    spec = SUITES[suite]
    config = _teacher_config_rel(spec.data, spec.detector)
    record = shipped_record(teacher_name(spec.data, spec.detector),
                            config) or {}
    return config, record.get('metrics', {})


# --- cells ---------------------------------------------------------------

def _short(stat: Optional[Stat], signed: bool = False) -> str:
    """``0.260 +- 0.004``, ``0.243`` for one seed, ``-`` for none."""
    return fmt_ms(stat, signed, count=False)


def _per_seed(runs: Dict[int, dict], key: str = 'mAP') -> str:
    return ', '.join(f'{r[key]:.3f}' for r in ok_runs(runs, key).values())


# --- blocks --------------------------------------------------------------

def summary_block(results: Results, steps: Dict) -> List[str]:
    """The README's one table: report mAP of each method on each main
    suite, whether ERA is above it there, and the train step."""
    suites = [s for s in MAIN_SUITES if s in results]
    head = ['method'] + [SUITE_TITLES[s] for s in suites] + [
        'train step x plain student']
    lines = ['| ' + ' | '.join(head) + ' |',
             '|---' + '|---:' * (len(head) - 1) + '|']
    verdicts: Dict[str, List[bool]] = {}
    for method, label in SUMMARY_METHODS.items():
        cells, step_cells = [label], []
        for suite in suites:
            runs = results[suite].get(method)
            if not runs:
                cells.append('-')
                step_cells.append('-')
                continue
            cell = _short(runs_stat(runs, 'mAP'))
            if method in VERDICT_NAMES and results[suite].get(ERA):
                above = compare(runs, results[suite][ERA], 'mAP')['above']
                if above is not None:
                    verdicts.setdefault(method, []).append(above)
                    cell += ' (ERA above)' if above else ' (ERA not above)'
            cells.append(f'**{cell}**' if method == ERA else cell)
            step = step_ratio(steps, suite, method)
            step_cells.append('-' if step is None else f'{step:.2f}x')
        cells.append(' / '.join(step_cells))
        lines.append('| ' + ' | '.join(cells) + ' |')
    lines += [''] + textwrap.wrap(
        'Report-split (test) bbox mAP, mean +- std over seeds '
        f'{_seeds_text(results)}; "ERA above": every paired difference ERA - '
        "method > 0 and its mean above both methods' std. By that rule ERA is "
        + _verdict_text(verdicts) + '.', width=100, break_on_hyphens=False)
    return lines


def _seeds_text(results: Results) -> str:
    seeds = sorted({s for suite in results.values()
                    for runs in suite.values() for s in runs})
    return ', '.join(map(str, seeds))


def _verdict_text(verdicts: Dict[str, List[bool]]) -> str:
    def count(m: str) -> str:
        v = verdicts[m]
        return f'{VERDICT_NAMES[m]} ({sum(v)} of {len(v)})'

    def join(names: List[str], last: str) -> str:
        return (', '.join(names[:-1]) + f' {last} ' + names[-1]
                if len(names) > 1 else ''.join(names))
    above = [count(m) for m in verdicts if any(verdicts[m])]
    never = [VERDICT_NAMES[m] for m in verdicts if not any(verdicts[m])]
    text = 'above ' + join(above, 'and') + (
        ' (the pairs where it is above, of the pairs that have both)')
    return text + (', and on no pair above ' + join(never, 'or')
                   if never else '')


def full_block(results: Results, steps: Dict) -> List[str]:
    """Every suite's table (:func:`benchmarks.results_table.suite_markdown`),
    as ``python -m benchmarks`` writes it, with the plots kept beside it."""
    lines: List[str] = []
    for suite, runs in results.items():
        config, metrics = teacher_record(suite)
        val = ', '.join(f'{k} {metrics[k]:.3f}' for k in ('mAP', 'mAP50')
                        if k in metrics) or '- (no shipped record)'
        spec = SUITES[suite]
        head = (f'Set {spec.data}, teacher `{config}` (val {val}, its '
                'shipped record in `teachers/`).')
        links = [(name, title) for name, title in plot_files(suite).values()
                 if osp.isfile(osp.join(REPO_ROOT, PLOTS_DIR, name))]
        summary = summarize_suite(runs, steps.get(suite))
        lines += suite_markdown(suite, summary, head, links) + ['']
    return lines[:-1]


def _config_rows(results: Results, directory: str
                 ) -> List[Tuple[str, str, str]]:
    """``(suite, method, config)`` of the recorded runs whose config is in
    ``configs/<directory>/``, each config once (its first suite)."""
    rows, seen = [], set()
    for suite in results:
        for method, config in SUITES[suite].configs().items():
            if (osp.dirname(config) == f'configs/{directory}'
                    and config not in seen and results[suite].get(method)):
                seen.add(config)
                rows.append((suite, method, config))
    return rows


def config_block(results: Results, steps: Dict, directory: str
                 ) -> List[str]:
    """The recorded runs of ``configs/<directory>/``'s configs: report mAP
    per seed, the difference to the plain student and ERA's to it."""
    lines = ['| config | suite | report mAP (per seed) | mAP50 | val mAP | '
             '- plain student | above it | ERA - it | ERA above | '
             'train step x student |',
             '|---|---|---|---:|---:|---|---|---|---|---:|']
    for suite, method, config in _config_rows(results, directory):
        runs = results[suite][method]
        base = results[suite].get(BASELINE, {})
        era = results[suite].get(ERA, {})
        vs = compare(base, runs, 'mAP') if method != BASELINE else None
        ev = compare(runs, era, 'mAP') if method != ERA and era else None
        step = step_ratio(steps, suite, method)
        cells = [f'`{osp.basename(config)}`', SUITE_TITLES[suite],
                 f'{_short(runs_stat(runs, "mAP"))} ({_per_seed(runs)})',
                 _short(runs_stat(runs, 'mAP50')),
                 _short(runs_stat(runs, 'val_mAP')),
                 '-' if vs is None else
                 f'{_short(vs["diff"], True)} ({fmt_diffs(vs["diffs"])})',
                 '-' if vs is None else fmt_above(vs['above']),
                 '-' if ev is None else
                 f'{_short(ev["diff"], True)} ({fmt_diffs(ev["diffs"])})',
                 '-' if ev is None else fmt_above(ev['above']),
                 '-' if step is None else f'{step:.2f}x']
        lines.append('| ' + ' | '.join(cells) + ' |')
    if len(lines) == 2:
        return ['No run of these configs is recorded in `docs/results/runs/`.']
    return lines


def cost_block(results: Results, steps: Dict) -> List[str]:
    """The timed train steps of the recorded suites (``step_times.json``):
    each method's median step, and step and compute (step x iterations) as
    ratios to the plain student's."""
    lines = ['| suite | method | median step (ms, p25-p75) | iterations | '
             'train step x student | compute x student |',
             '|---|---|---:|---:|---:|---:|']
    for suite in results:
        for method, t in steps.get(suite, {}).items():
            if not t.get('median_ms'):
                continue
            r = ratios(steps[suite], method, BASELINE) or {}
            # timed apart from its suite: the plain student timed beside it
            beside = (f'; plain student beside it '
                      f'{t["baseline"]["median_ms"]:.0f}'
                      if t.get('baseline') else '')
            cells = [SUITE_TITLES.get(suite, suite),
                     LABELS.get(method, method),
                     f'{t["median_ms"]:.0f} ({t["p25_ms"]:.0f}-'
                     f'{t["p75_ms"]:.0f}{beside})',
                     str(t.get('max_iters', '-')),
                     f'{r["step"]:.2f}x' if r else '-',
                     f'{r["compute"]:.2f}x' if r else '-']
            lines.append('| ' + ' | '.join(cells) + ' |')
    return lines


def teachers_block(results: Results, steps: Dict) -> List[str]:
    """The shipped teachers' validation curves (``teachers/*.json``): val
    bbox mAP at each validation, the checkpoint kept, the training time."""
    records = []
    for path in sorted(glob.glob(osp.join(REPO_ROOT, 'teachers', '*.json'))):
        with open(path) as f:
            records.append(json.load(f))
    iters = sorted({p['iter'] for r in records
                    for p in r.get('val_curve', [])})
    lines = ['| teacher | ' + ' | '.join(map(str, iters)) + ' | kept | '
             'training time |', '|---' + '|---:' * len(iters) + '|---|---:|']
    for r in records:
        curve = {p['iter']: p['mAP'] for p in r.get('val_curve', [])}
        m = r['metrics']
        cells = [f'`{osp.basename(r["config"])}`'] + [
            f'{curve[i]:.3f}' if i in curve else '' for i in iters] + [
            f'{r["iterations"]} it: {m["mAP"]:.3f} (mAP50 {m["mAP50"]:.3f})',
            f'{r["seconds"] / 60:.0f} min']
        lines.append('| ' + ' | '.join(cells) + ' |')
    return lines
