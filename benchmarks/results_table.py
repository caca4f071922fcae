"""The results tables: their numbers and their markdown.

:mod:`benchmarks.results` trains and reads the runs; this module turns them
into ``results.md`` / ``results.json``: per suite, each method's report-split
mAP / mAP50 and val mAP (mean +- std over seeds), its paired differences to
the baseline, whether it is reliably above it
(:func:`benchmarks.seed_stats.is_above`), its wall-clock, its train step
and compute as ratios to the baseline's (:mod:`benchmarks.step_times`), and
ERA against every other method with the same rule.
"""
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Tuple

from mmera.utils.atomic_files import write_text_atomic

from .seed_stats import (
    compare,
    fmt_above,
    fmt_diffs,
    fmt_ms,
    fmt_seconds,
    ok_runs,
    runs_stat,
)
from .step_times import ratios
from .suites import BASELINE  # the plain student of every suite

#: The method compared with every other one.
ERA = 'era'
#: The methods' names in the tables and plots.
LABELS = {BASELINE: 'baseline', 'cost-matched': 'cost-matched',
          'head-init': 'head-init', 'fitnet': 'FitNet', 'pkd': 'PKD',
          'ld': 'LD', 'crosskd': 'CrossKD', ERA: 'ERA', 'rkd': 'RKD',
          'reskd': 'ResKD', 'sskd': 'SSKD', 'trunk-branch': 'Trunk-to-Branch'}
_HEADER = ('| method | report mAP | report mAP50 | val mAP | '
           '- baseline (report mAP) | per seed | above baseline | '
           'time/run | wall-clock x baseline | train step x baseline | '
           'compute x baseline | n | failed seeds |')
_COLUMNS = _HEADER.count('|') - 1
_INTRO = (
    '# Main results: ERA against the baseline and the other methods\n\n'
    "Report mAP: each run's last checkpoint on the set's test split, never "
    'used for a choice (val: the final validation of the run). Differences '
    'are paired by seed; "above": every paired difference > 0 and their '
    'mean > the std of both methods. The wall-clock of runs trained side by '
    'side (--jobs > 1) includes their contention; the train step is timed '
    'on a quiet machine, each config alone (`python -m benchmarks '
    '--step-times`), and compute = train step x iterations.\n\n')


def summarize_suite(runs: Dict[str, Dict[int, dict]],
                    steps: Optional[Dict[str, dict]] = None) -> Dict:
    """One suite's numbers.

    Args:
        runs: ``method -> seed -> run``, a run being ``{'mAP', 'mAP50'}``
            (report split), ``val_mAP``, ``train_s`` (finished; without
            ``mAP`` but with ``report_error`` when the split could not be
            evaluated), ``{'error'}`` (failed) or ``{'error', 'no_config'}``.
        steps: ``method ->`` its timed train step
            (:mod:`benchmarks.step_times`); None: not timed.

    Returns:
        dict: ``methods``: per method the :func:`mean_std` of ``mAP``,
        ``mAP50``, ``val_mAP`` and ``train_s``, ``n`` (finished runs),
        ``failed`` (seeds), ``no_config`` (its message or None),
        ``time_ratio`` (mean wall-clock / the baseline's), ``steps``
        (:func:`~benchmarks.step_times.ratios`: train step and compute as
        ratios to the baseline's, or None) and, but for the
        baseline, ``vs_baseline`` (:func:`compare` on the report mAP);
        ``era_vs``: ERA against every other method (ERA - method);
        ``report_errors``: why finished runs lack report-split metrics;
        ``costs``: each timed method's entry of ``steps`` (its deployed
        ``params_m`` and ``gflops`` when counted).
    """
    base = runs.get(BASELINE, {})
    base_s = runs_stat(base, 'train_s')
    methods = {}
    for method, seeds in runs.items():
        row = {key: runs_stat(seeds, key)
               for key in ('mAP', 'mAP50', 'val_mAP', 'train_s')}
        row.update(
            n=len(ok_runs(seeds, 'val_mAP')),
            no_config=next((r['error'] for r in seeds.values()
                            if r.get('no_config')), None),
            failed=sorted(s for s, r in seeds.items()
                          if 'error' in r and not r.get('no_config')))
        if method != BASELINE:
            row['vs_baseline'] = compare(base, seeds, 'mAP')
        row['time_ratio'] = (row['train_s']['mean'] / base_s['mean'] if (
            row['train_s'] and base_s and base_s['mean']) else None)
        row['steps'] = ratios(steps or {}, method, BASELINE)
        methods[method] = row
    era = runs.get(ERA, {})
    era_vs = {m: compare(seeds, era, 'mAP')
              for m, seeds in runs.items() if m != ERA} if era else {}
    errors = sorted({r['report_error'] for seeds in runs.values()
                     for r in seeds.values() if 'report_error' in r})
    return dict(methods=methods, era_vs=era_vs, report_errors=errors,
                costs={m: steps[m] for m in runs if m in (steps or {})})


def method_row(method: str, row: Dict) -> str:
    """A method's line of the suite's table (``row``: its summary)."""
    label = LABELS.get(method, method)
    if row['no_config']:
        return f'| {label} | {row["no_config"]} |' + ' - |' * (_COLUMNS - 2)
    vs = row.get('vs_baseline') or {}
    ratio, steps = row['time_ratio'], row.get('steps') or {}
    cells = [label, fmt_ms(row['mAP']), fmt_ms(row['mAP50']),
             fmt_ms(row['val_mAP']), fmt_ms(vs.get('diff'), signed=True),
             fmt_diffs(vs.get('diffs', {})), fmt_above(vs.get('above')),
             fmt_seconds(row['train_s']),
             '-' if ratio is None else f'{ratio:.2f}x',
             *(f'{steps[k]:.2f}x' if k in steps else '-'
               for k in ('step', 'compute')), str(row['n']),
             ', '.join(f's{s}' for s in row['failed']) or '-']
    return '| ' + ' | '.join(cells) + ' |'


def suite_markdown(suite: str, s: Dict, head: str,
                   links: List[Tuple[str, str]]) -> List[str]:
    """The lines of one suite: its head, its methods, ERA against each
    method, the plots.

    Args:
        suite: The suite's name.
        s: Its :func:`summarize_suite`.
        head: The sentence under its title (set, teacher).
        links: ``(file, title)`` of its plots, relative to the tables.

    Returns:
        list[str]: The markdown lines.
    """
    lines = [f'## {suite}', '', head, '']
    if s['report_errors']:
        lines += [f'- {e}' for e in s['report_errors']] + ['']
    lines += [_HEADER, '| --- ' * _COLUMNS + '|']
    lines += [method_row(m, row) for m, row in s['methods'].items()]
    lines += ['', '**ERA vs each method** (report mAP, ERA - method):', '',
              '| method | ERA - method | per seed | ERA above |',
              '| --- | --- | --- | --- |']
    lines += [f'| {LABELS.get(m, m)} | {fmt_ms(c["diff"], signed=True)} | '
              f'{fmt_diffs(c["diffs"])} | {fmt_above(c["above"])} |'
              for m, c in s['era_vs'].items()] or ['| - | - | - | - |']
    costs = [(m, c) for m, c in s.get('costs', {}).items() if 'gflops' in c]
    if costs:
        lines += ['', 'Deployed model (parameters, GFLOPs per image at the '
                  'test size, no NMS): ' + '; '.join(
                      f"{LABELS.get(m, m)} {c['params_m']:.3f} M, "
                      f"{c['gflops']:.3f} G" for m, c in costs) + '.']
    if links:
        lines += [''] + [f'![{title}]({name})' for name, title in links]
    return lines


def write_report(work_dir: str, results: Dict, meta: Dict,
                 heads: Dict[str, str],
                 links: Dict[str, List[Tuple[str, str]]]) -> str:
    """Writes ``results.md`` and ``results.json`` (runs, summary, meta).

    Args:
        work_dir: Where the tables go.
        results: ``suite -> method -> seed -> run``.
        meta: ``seeds``, ``updated`` and ``problems`` (``suite ->`` why it
            could not train), with anything else kept in the json.
        heads: ``suite ->`` the sentence under its title.
        links: ``suite ->`` its plots (see :func:`suite_markdown`).

    Returns:
        str: The markdown.
    """
    steps = meta.get('step_times', {})
    summary = {s: summarize_suite(runs, steps.get(s))
               for s, runs in results.items()}
    lines = [f'Seeds {meta["seeds"]}; updated {meta["updated"]}.']
    if meta['problems']:  # suites that could not train
        lines += [''] + [f'- {s}: {p}' for s, p in meta['problems'].items()]
    for suite, s in summary.items():
        lines += [''] + suite_markdown(suite, s, heads.get(suite, ''),
                                       links.get(suite, []))
    text = _INTRO + '\n'.join(lines).strip() + '\n'
    os.makedirs(work_dir, exist_ok=True)
    write_text_atomic(osp.join(work_dir, 'results.json'), json.dumps(
        dict(meta=meta, results=results, summary=summary), indent=1,
        default=str))
    write_text_atomic(osp.join(work_dir, 'results.md'), text)
    return text
