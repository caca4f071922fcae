"""The ``Results`` of ``configs/*/metafile.yml`` (and the ``Seeds`` and
``Train Step Ratio to Student`` of each model's ``Metadata``), from the run
records :mod:`benchmarks.docs` loads."""
import glob
import os.path as osp
from typing import Dict, List

from .docs_tables import Results, step_ratio
from .paths import REPO_ROOT
from .seed_stats import runs_stat
from .suites import SUITES

#: The metafile ``Dataset`` of each set.
DATASETS = {'synthetic': 'synthetic', 'deepforest': 'DeepForest-mini'}
#: The Metadata keys the generator owns in a metafile entry.
META_KEYS = ('Training Resources', 'Seeds', 'Train Step Ratio to Student')


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
                'step': step_ratio(steps, suite, method)}
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
