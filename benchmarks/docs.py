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

The results tables are :mod:`benchmarks.docs_tables`, the metafiles'
``Results`` :mod:`benchmarks.docs_metafiles`; this module loads the records,
names the blocks and rewrites the files.

Block names: ``results-summary`` (the README's one table),
``results-full`` (every suite, ``docs/results/results.md``),
``results-<dir>`` (the recorded runs of the configs in ``configs/<dir>/``),
``cost-steps`` (the timed train steps), ``plateau`` (the plain students'
plateau, :mod:`benchmarks.plateau`), ``convergence`` (the comparison at a
long schedule, :mod:`benchmarks.convergence` and its ERA side,
:mod:`benchmarks.convergence_ablation`), ``convergence-summary`` (the
README's table of it, :mod:`benchmarks.convergence_summary`),
``recommendation`` (what to train at a short schedule and at the plateau,
:mod:`benchmarks.recommendation`),
``teacher-curves`` (the shipped
teachers' validation curves), ``era-modes`` (ERA's S / T / ST mAP and
their cost, :mod:`benchmarks.inference_cost`) and ``zoo-support`` (the
support matrix, from the zoo sweep's cells, ``docs/results/zoo_sweep.json``,
which also give the page ``docs/zoo_sweep.md``).
"""
import argparse
import glob
import os.path as osp
import re
import sys
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from mmera.utils.atomic_files import write_text_atomic

from .convergence import COMPARISON_SUITES
from .convergence_ablation import ABLATION_SUITES, convergence_block
from .convergence_summary import summary_block as convergence_summary
from .docs_metafiles import metafile_results, metafiles, render_metafile
from .docs_tables import (
    Results,
    config_block,
    cost_block,
    full_block,
    summary_block,
    teacher_record,
    teachers_block,
)
from .inference_cost import modes_block
from .paths import REPO_ROOT
from .plateau import PLATEAU_SUITES, plateau_block
from .recommendation import SHORT, recommendation_block
from .run_records import RECORDS_DIR, records_of
from .step_times import load_step_times
from .suites import MAIN_SUITES, SUITES
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


# --- the blocks ----------------------------------------------------------

def block_text(name: str, results: Results, steps: Dict) -> List[str]:
    """The lines of block ``name`` (KeyError for an unknown name)."""
    makers: Dict[str, Callable[..., List[str]]] = {
        'results-summary': summary_block, 'results-full': full_block,
        'cost-steps': cost_block, 'teacher-curves': teachers_block,
        'zoo-support': lambda *_: support_block(),
        'era-modes': lambda *_: modes_block(),
        'convergence': lambda _, steps: convergence_block(
            load_results(suites=(*COMPARISON_SUITES, *ABLATION_SUITES)),
            steps=steps),
        'convergence-summary': lambda _, steps: convergence_summary(
            load_results(suites=(*PLATEAU_SUITES, *COMPARISON_SUITES)),
            steps),
        'recommendation': lambda _, steps: recommendation_block(
            load_results(suites=(SHORT[0], *PLATEAU_SUITES,
                                 *COMPARISON_SUITES)), steps),
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
