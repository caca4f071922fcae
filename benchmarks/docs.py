"""The documentation's numbers, generated from the committed run records.

Every results table of the documentation (the top-level README, ``docs/``,
each method's ``configs/<method>/README.md``) stands between two markers::

    <!-- generated: NAME -->
    ...
    <!-- end generated -->

and every ``Results`` entry of a ``configs/*/metafile.yml`` (with the
``Seeds`` and ``Train Step Ratio to Student`` of its ``Metadata``) is
generated too. Their one source is the run records in ``docs/results/runs/``
(:mod:`benchmarks.run_records`: one ``<config>_seed<seed>.json`` per run,
written by ``python -m benchmarks``, and the timed train steps,
``step_times.json``) and the shipped teachers' records
(``teachers/*.json``), through the tables' own code
(:mod:`benchmarks.results_table`, :mod:`benchmarks.seed_stats`). So::

    python -m benchmarks.docs            # = make docs: rewrite the blocks
    python -m benchmarks.docs --check    # exit 1, naming the files that differ

A number without a record has no place in the documentation: record the run
(``python -m benchmarks --suites ...``), then ``make docs``.

Block names: ``results-summary`` (the README's one table),
``results-full`` (every suite, ``docs/results/results.md``),
``results-<dir>`` (the recorded runs of the configs in ``configs/<dir>/``),
``cost-steps`` (the timed train steps), ``plateau`` (the plain students'
plateau, :mod:`benchmarks.plateau`), ``convergence`` (the comparison at a
long schedule, :mod:`benchmarks.convergence` and its ERA side,
:mod:`benchmarks.convergence_ablation`), ``convergence-summary`` (the
README's table of it, :mod:`benchmarks.convergence_summary`),
``teacher-curves`` (the shipped
teachers' validation curves), ``era-modes`` (ERA's S / T / ST mAP and
their cost, :mod:`benchmarks.inference_cost`) and ``zoo-support`` (the
support matrix, from the zoo sweep's cells, ``docs/results/zoo_sweep.json``,
which also give the page ``docs/zoo_sweep.md``).
"""
import argparse
import glob
import json
import os.path as osp
import re
import sys
import textwrap
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from mmera.utils.atomic_files import write_text_atomic

from .convergence import COMPARISON_SUITES
from .convergence_ablation import ABLATION_SUITES, convergence_block
from .convergence_summary import summary_block as convergence_summary
from .inference_cost import modes_block
from .paths import REPO_ROOT
from .plateau import PLATEAU_SUITES, plateau_block
from .results_plots import plot_files
from .results_table import ERA, LABELS, suite_markdown, summarize_suite
from .run_records import RECORDS_DIR, records_of
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
from .step_times import load_step_times, ratios
from .suites import BASELINE, MAIN_SUITES, SUITES
from .teachers import _teacher_config_rel, teacher_work_dir
from .zoo_support import doc_text, support_block
from .zoo_sweep import DOC as ZOO_DOC
from .zoo_sweep import load_cells

#: The suites the documentation reports (those with committed records).
DOC_SUITES = (*MAIN_SUITES, 'synthetic-ablations',
              'synthetic-retinanet-plateau', 'synthetic-gfl-plateau')
#: A block's first and last line.
BEGIN = '<!-- generated: {} -->'
END = '<!-- end generated -->'
_BEGIN_RE = re.compile(r'^<!-- generated: ([\w-]+) -->$')
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
    'head-init': 'head-initialised student',
    'cost-matched': "cost-matched student (ERA's compute)"}
#: The methods' names in the summary's reading.
VERDICT_NAMES = {BASELINE: 'the plain student', 'fitnet': 'FitNet',
                 'pkd': 'PKD', 'ld': 'LD', 'crosskd': 'CrossKD',
                 'head-init': 'the head-initialised student',
                 'cost-matched': 'the cost-matched (longer-trained) student'}
#: The metafile ``Dataset`` of each set.
DATASETS = {'synthetic': 'synthetic', 'deepforest': 'DeepForest-mini'}
#: The Metadata keys the generator owns in a metafile entry.
META_KEYS = ('Training Resources', 'Seeds', 'Train Step Ratio to Student')

Results = Dict[str, Dict[str, Dict[int, dict]]]


# --- the records ---------------------------------------------------------

def load_results(records_dir: str = RECORDS_DIR,
                 suites: Sequence[str] = DOC_SUITES) -> Results:
    """``suite -> method -> seed -> run`` of the committed records.

    A record is ``<config name>_seed<seed>.json``; it stands for its
    suite's method when its key names the same config. The key's config and
    teacher hashes are not recomputed here (the benchmark does that before
    reusing a record): the documentation shows what is recorded.
    """
    results: Results = {}
    for suite in suites:
        results[suite] = {
            method: {seed: record['run'] for seed, _, record in records_of(
                config, records_dir) if isinstance(record.get('run'), dict)}
            for method, config in SUITES[suite].configs().items()}
    return results


def _steps(records_dir: str) -> Dict[str, Dict[str, dict]]:
    return load_step_times(records_dir)


def teacher_record(suite: str) -> Tuple[str, dict]:
    """The suite's teacher config and the val metrics of its shipped copy
    (``teachers/<name>.json``; empty when none is shipped)."""
    spec = SUITES[suite]
    config = _teacher_config_rel(spec.data, spec.detector)
    name = osp.basename(teacher_work_dir(spec.data, detector=spec.detector))
    record = shipped_record(name, config) or {}
    return config, record.get('metrics', {})


# --- cells ---------------------------------------------------------------

def _short(stat: Optional[Stat], signed: bool = False) -> str:
    """``0.260 +- 0.004``, ``0.243`` for one seed, ``-`` for none."""
    return fmt_ms(stat, signed, count=False)


def _per_seed(runs: Dict[int, dict], key: str = 'mAP') -> str:
    return ', '.join(f'{r[key]:.3f}' for r in ok_runs(runs, key).values())


def _ratio(steps: Dict[str, dict], suite: str, method: str,
           key: str = 'step') -> Optional[float]:
    r = ratios(steps.get(suite, {}), method, BASELINE)
    return None if r is None else r[key]


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
            if method != ERA and results[suite].get(ERA):
                above = compare(runs, results[suite][ERA], 'mAP')['above']
                if above is not None:
                    verdicts.setdefault(method, []).append(above)
                    cell += ' (ERA above)' if above else ' (ERA not above)'
            cells.append(f'**{cell}**' if method == ERA else cell)
            step = _ratio(steps, suite, method)
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
        step = _ratio(steps, suite, method)
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
            cells = [SUITE_TITLES.get(suite, suite),
                     LABELS.get(method, method),
                     f'{t["median_ms"]:.0f} ({t["p25_ms"]:.0f}-'
                     f'{t["p75_ms"]:.0f})', str(t.get('max_iters', '-')),
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


def block_text(name: str, results: Results, steps: Dict) -> List[str]:
    """The lines of block ``name`` (KeyError for an unknown name)."""
    makers: Dict[str, Callable[..., List[str]]] = {
        'results-summary': summary_block, 'results-full': full_block,
        'cost-steps': cost_block, 'teacher-curves': teachers_block,
        'zoo-support': lambda *_: support_block(),
        'era-modes': lambda *_: modes_block(),
        'convergence': lambda *_: convergence_block(
            load_results(suites=(*COMPARISON_SUITES, *ABLATION_SUITES))),
        'convergence-summary': lambda *_: convergence_summary(load_results(
            suites=(*PLATEAU_SUITES, *COMPARISON_SUITES))),
        'plateau': lambda *_: plateau_block(
            load_results(suites=tuple(PLATEAU_SUITES)),
            {s: teacher_record(s) for s in PLATEAU_SUITES})}
    if name in makers:
        return makers[name](results, steps)
    if name.startswith('results-') and osp.isdir(
            osp.join(REPO_ROOT, 'configs', name[len('results-'):])):
        return config_block(results, steps, name[len('results-'):])
    raise KeyError(f'unknown generated block {name!r}')


# --- markdown files ------------------------------------------------------

def markdown_files(root: str = REPO_ROOT) -> List[str]:
    """The Markdown files that may hold generated blocks, repository
    relative: README.md, docs/ (but the run records), configs/*/README.md."""
    files = ['README.md'] + sorted(
        osp.relpath(p, root) for p in glob.glob(
            osp.join(root, 'docs', '**', '*.md'), recursive=True))
    files += sorted(osp.relpath(p, root) for p in glob.glob(
        osp.join(root, 'configs', '*', 'README.md')))
    return [f for f in files if not f.startswith('docs/results/runs/')]


def blocks_of(text: str) -> List[Tuple[str, int, int]]:
    """``(name, first line, end line)`` of every block of ``text`` (line
    indices of the markers; ValueError for an unclosed one)."""
    lines = text.split('\n')
    found, i = [], 0
    while i < len(lines):
        m = _BEGIN_RE.match(lines[i].strip())
        if m:
            for j in range(i + 1, len(lines)):
                if lines[j].strip() == END:
                    break
                if _BEGIN_RE.match(lines[j].strip()):
                    j = len(lines)
                    break
            else:
                j = len(lines)
            if j == len(lines):
                raise ValueError(f'block {m[1]!r} at line {i + 1} is not '
                                 f'closed by {END}')
            found.append((m[1], i, j))
            i = j
        i += 1
    return found


def render_markdown(text: str, results: Results, steps: Dict) -> str:
    """``text`` with every generated block regenerated."""
    lines = text.split('\n')
    for name, begin, end in reversed(blocks_of(text)):
        lines[begin + 1:end] = block_text(name, results, steps)
    return '\n'.join(lines)


# --- metafiles -----------------------------------------------------------

def metafile_results(results: Results, steps: Dict
                     ) -> Dict[str, Dict[str, object]]:
    """``config -> {seeds, dataset, box AP, box AP50, step}`` of every
    recorded config (its first suite)."""
    out: Dict[str, Dict[str, object]] = {}
    for suite, methods in results.items():
        for method, config in SUITES[suite].configs().items():
            runs = methods.get(method)
            stat = runs_stat(runs or {}, 'mAP')
            if stat is None or config in out:
                continue
            stat50 = runs_stat(runs, 'mAP50')
            out[config] = {
                'seeds': stat['n'], 'dataset': DATASETS[SUITES[suite].data],
                'box AP': round(stat['mean'] * 100, 1),
                'box AP50': round(stat50['mean'] * 100, 1),
                'step': _ratio(steps, suite, method)}
    return out


def render_metafile(text: str, measured: Dict[str, Dict[str, object]]
                    ) -> str:
    """``text`` (a metafile) with each model's generated keys rewritten:
    ``Results`` and the Metadata's :data:`META_KEYS` from ``measured``,
    removed from a model with no record."""
    lines = text.split('\n')
    starts = [i for i, line in enumerate(lines)
              if line.startswith('  - Name: ')]
    models_at = next((i for i, line in enumerate(lines)
                      if line.startswith('Models:')), None)
    if models_at is None:
        return text
    starts = [i for i in starts if i > models_at]
    out = lines[:starts[0]] if starts else lines
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(lines)
        out += _render_model(lines[start:end], measured)
    return '\n'.join(out)


def _render_model(block: List[str], measured: Dict[str, Dict[str, object]]
                  ) -> List[str]:
    config = next((line.split(':', 1)[1].strip() for line in block
                   if line.startswith('    Config:')), None)
    kept, skip = [], False
    for line in block:
        if line.startswith('    Results:'):
            skip = True
            continue
        if skip and (line.startswith('      ') or not line.strip()):
            if not line.strip():
                kept.append(line)
            continue
        skip = False
        if any(line.startswith(f'      {k}:') for k in META_KEYS):
            continue
        kept.append(line)
    # the model's own lines end at its last indented key (what follows,
    # comments and blank lines, belongs to the next model)
    last = max(i for i, line in enumerate(kept)
               if line.startswith('    ') and line.strip()
               and not line.strip().startswith('#'))
    body, tail = kept[:last + 1], kept[last + 1:]
    m = measured.get(config)
    if m is None:
        return body + tail
    meta = ['      Training Resources: CPU, one thread per run',
            f'      Seeds: {m["seeds"]}']
    if m['step'] is not None:
        meta.append(f'      Train Step Ratio to Student: {m["step"]:.2f}')
    at = next(i for i, line in enumerate(body)
              if line.startswith('    Metadata:'))
    end = at + 1
    while end < len(body) and body[end].startswith('      '):
        end += 1
    body[end:end] = meta
    body += ['    Results:', '      - Task: Object Detection',
             f'        Dataset: {m["dataset"]}', '        Metrics:',
             f'          box AP: {m["box AP"]}',
             f'          box AP50: {m["box AP50"]}']
    return body + tail


def metafiles(root: str = REPO_ROOT) -> List[str]:
    """``configs/*/metafile.yml``, repository-relative."""
    return sorted(osp.relpath(p, root) for p in glob.glob(
        osp.join(root, 'configs', '*', 'metafile.yml')))


# --- the command ---------------------------------------------------------

def generate(root: str = REPO_ROOT, records_dir: str = RECORDS_DIR
             ) -> Dict[str, Tuple[str, str]]:
    """``file -> (its text, its text regenerated)`` of every file that may
    hold generated numbers."""
    results = load_results(records_dir)
    steps = _steps(records_dir)
    measured = metafile_results(results, steps)
    out = {}
    for rel in markdown_files(root):
        with open(osp.join(root, rel)) as f:
            text = f.read()
        out[rel] = (text, render_markdown(text, results, steps))
    for rel in metafiles(root):
        with open(osp.join(root, rel)) as f:
            text = f.read()
        out[rel] = (text, render_metafile(text, measured))
    # the zoo sweep's page, from its cells
    page = osp.relpath(ZOO_DOC, REPO_ROOT)
    if osp.isdir(osp.join(root, osp.dirname(page))):
        old = ''
        if osp.isfile(osp.join(root, page)):
            with open(osp.join(root, page)) as f:
                old = f.read()
        out[page] = (old, doc_text(load_cells()))
    return out


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Rewrites the generated blocks (or, with ``--check``, names the files
    whose blocks differ from the records and returns 1)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--check', action='store_true',
                        help='write nothing; exit 1 naming the files whose '
                        'generated numbers differ from the records')
    parser.add_argument('--records-dir', default=RECORDS_DIR)
    args = parser.parse_args(argv)
    changed = {rel: new for rel, (old, new) in
               generate(records_dir=args.records_dir).items() if old != new}
    if args.check:
        for rel in changed:
            print(f'{rel}: differs from the run records (run make docs)')
        return 1 if changed else 0
    for rel, new in changed.items():
        write_text_atomic(osp.join(REPO_ROOT, rel), new)
        print(f'written: {rel}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
