"""The zoo sweep: every method on one teacher -> student pair per mmdet zoo
folder, offline (random weights, ``Pretrained`` inits stripped).

Each (folder, method) cell is built and trained one step on two random
images by :func:`mmera.analysis.pair_probe.probe`: ``trains``, ``refused``
(the method's message), ``unavailable`` (a config that cannot be loaded
here, e.g. an mmpretrain backbone without torchvision) or ``crashes`` (the
traceback is kept). Cells are written to :data:`RESULTS` as they finish;
a cell whose pair, method, image size and model configs are unchanged (the
same hash) is reused, so an interrupted sweep resumes. :data:`DOC` is
rendered from that file (the folders taken, the ones left and why, the
summary and the table)::

    python -m benchmarks.zoo_sweep                          # new cells only
    python -m benchmarks.zoo_sweep --folders retinanet detr --methods PKD RKD
    python -m benchmarks.zoo_sweep --fresh                  # every cell again
    python -m benchmarks.zoo_sweep --render                 # docs only
"""
import argparse
import hashlib
import json
import os
import os.path as osp
import time
from typing import Callable, Dict, List, Optional

from benchmarks.paths import repo_path
from benchmarks.zoo_folders import EXCLUDED, PAIR_SIZES, ZOO_PAIRS, folder_pair

#: the recorded cells (one per folder and method)
RESULTS = repo_path('docs/results/zoo_sweep.json')
#: the page rendered from them
DOC = repo_path('docs/zoo_sweep.md')
#: the side of the random images (:data:`PAIR_SIZES` overrides)
SIZE = 160


def methods() -> List[str]:
    """The methods swept, in the table's order."""
    from mmera.analysis.pair_probe import METHODS
    return list(METHODS)


def cell_key(folder: str, method: str) -> str:
    """The cell's key in :data:`RESULTS`."""
    return f'{folder} | {method}'


def zoo_file(config: str) -> str:
    """The file of a zoo path in the installed mmdet."""
    from mmengine.utils import get_installed_path
    return osp.join(get_installed_path('mmdet'), '.mim', 'configs', config)


def pair_hash(folder: str) -> str:
    """A hash of the pair's model configs (their files' text where a config
    cannot be loaded here), so a changed config is swept again."""
    from mmera.analysis.offline import offline_model
    parts = []
    for config in folder_pair(folder):
        try:
            parts.append(json.dumps(offline_model(config).to_dict(),
                                    sort_keys=True, default=str))
        except ImportError:
            with open(zoo_file(config)) as f:
                parts.append(f.read())
    return hashlib.sha1('\n'.join(parts).encode()).hexdigest()[:12]


def cell_hash(config_hash: str, method: str, size: int) -> str:
    """The hash that decides whether a recorded cell is reused."""
    return hashlib.sha1(f'{config_hash}|{method}|{size}'.encode()).hexdigest(
    )[:12]


def load_cells(path: str = RESULTS) -> Dict[str, Dict]:
    """The recorded cells by key (none where the file is missing)."""
    if not osp.exists(path):
        return {}
    with open(path) as f:
        return {cell_key(c['folder'], c['method']): c for c in json.load(f)}


def save_cells(cells: Dict[str, Dict], path: str = RESULTS) -> None:
    """Writes the cells, sorted by folder and method (atomically)."""
    order = methods()
    rows = sorted(cells.values(), key=lambda c: (
        c['folder'], order.index(c['method']) if c['method'] in order else 99))
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path + '.tmp', 'w') as f:
        json.dump(rows, f, indent=1)
        f.write('\n')
    os.replace(path + '.tmp', path)


def portable(text: str) -> str:
    """``text`` with this machine's install and checkout paths replaced by
    ``<site-packages>`` and ``<repo>``."""
    from mmengine.utils import get_installed_path
    site = osp.dirname(get_installed_path('mmdet'))
    return text.replace(site, '<site-packages>').replace(repo_path(''),
                                                         '<repo>/')


def run_cell(folder: str, method: str, size: int, hash_: str) -> Dict:
    """Probes one cell and returns its record."""
    from mmera.analysis.pair_probe import probe
    teacher, student = folder_pair(folder)
    start = time.perf_counter()
    result = {k: portable(v) for k, v in probe(method, teacher, student,
                                               size).items()}
    return dict(folder=folder, method=method, teacher=teacher,
                student=student, size=size, hash=hash_,
                seconds=round(time.perf_counter() - start, 1), **result)


def sweep(folders: List[str], method_names: List[str], path: str = RESULTS,
          fresh: bool = False, size: Optional[int] = None,
          log: Callable[[str], None] = print) -> Dict[str, Dict]:
    """Runs the cells not recorded yet (every cell with ``fresh``), saving
    after each one.

    Args:
        folders: Keys of :data:`ZOO_PAIRS`.
        method_names: Keys of ``pair_probe.METHODS``.
        path: The JSON file of the cells.
        fresh: Recompute recorded cells too.
        size: The image side (default: :data:`PAIR_SIZES` or :data:`SIZE`).
        log: Called with one line per cell.

    Returns:
        dict: Every recorded cell by key (those of other folders too).
    """
    cells = load_cells(path)
    for folder in folders:
        config_hash = pair_hash(folder)
        side = size or PAIR_SIZES.get(folder, SIZE)
        for method in method_names:
            key, hash_ = cell_key(folder, method), cell_hash(
                config_hash, method, side)
            old = cells.get(key)
            if old is not None and old['hash'] == hash_ and not fresh:
                log(f'{key}: {old["status"]} (recorded)')
                continue
            cells[key] = run_cell(folder, method, side, hash_)
            save_cells(cells, path)
            cell = cells[key]
            log(f'{key}: {cell["status"]} {cell["message"][:100]} '
                f'({cell["seconds"]} s)')
    return cells


def summary(cells: Dict[str, Dict]) -> str:
    """``N folders x M methods = C cells: a trains, b refused, ...``."""
    from mmera.analysis.pair_probe import STATUSES
    folders = {c['folder'] for c in cells.values()}
    names = {c['method'] for c in cells.values()}
    counts = [f"{sum(c['status'] == s for c in cells.values())} {s}"
              for s in STATUSES]
    return (f'{len(folders)} folders x {len(names)} methods = {len(cells)} '
            'cells: ' + ', '.join(counts))


def markdown(cells: Dict[str, Dict]) -> str:
    """The table of the recorded cells (a numbered note per message) and
    the crashes' exception lines."""
    from mmera.analysis.pair_probe import markdown as probe_markdown
    order = [m for m in methods() if any(c['method'] == m
                                         for c in cells.values())]
    rows = []
    for folder in sorted({c['folder'] for c in cells.values()}):
        teacher, student = folder_pair(folder)
        pair = osp.basename(teacher)[:-3] + (
            '' if teacher == student else ' -> ' + osp.basename(student)[:-3])
        row = dict(pair=f'{folder}: {pair}')
        for method in order:
            cell = cells.get(cell_key(folder, method))
            row[method] = 'not run' if cell is None else (
                cell['status'] if cell['status'] == 'trains' else
                f"{cell['status']}: {_short(cell['message'])}")
        rows.append(row)
    return probe_markdown(rows, order)


def _short(message: str, limit: int = 400) -> str:
    """A message as the page shows it: its first ``limit`` characters (the
    whole one stays in the JSON)."""
    return message if len(message) <= limit else message[:limit] + ' [...]'


def render_doc(cells: Dict[str, Dict], path: str = DOC) -> str:
    """Writes the page of the sweep: what it takes and leaves, the summary
    and the table; returns its text."""
    lines = [
        '# The mmdet zoo sweep', '',
        'Every mmera method on one teacher -> student pair of each mmdet '
        '3.x zoo folder: two sizes of one family where the folder has '
        'them, else a config paired with itself. Each cell builds the '
        'model with random weights (`Pretrained` inits stripped: nothing '
        'downloads) and trains one step on two random images: **trains**, '
        "**refused** (the method's message), **unavailable** (the config "
        'cannot be loaded here, e.g. an mmpretrain backbone without '
        'torchvision) or **crashes** (a bug; the traceback is in '
        '`docs/results/zoo_sweep.json`).', '',
        '    python -m benchmarks.zoo_sweep            # the cells not '
        'recorded yet', '',
        'For a pair of your own, `python tools/pair_report.py TEACHER '
        'STUDENT` says the same per method, and measures what it pairs, '
        'the parameters it adds and its training step\'s time and memory '
        'on your machine.', '',
        f'**{summary(cells)}**', '', markdown(cells), '',
        '## The folders taken', '',
        '| folder | teacher | student |', '|---|---|---|']
    for folder in sorted(ZOO_PAIRS):
        teacher, student = folder_pair(folder)
        lines.append(f'| {folder} | {osp.basename(teacher)} | '
                     f"{'(itself)' if student == teacher else osp.basename(student)} |")  # noqa: E501
    lines += ['', 'Image side: 160 px, except ' + ', '.join(
        f'{k}: {v} px' for k, v in sorted(PAIR_SIZES.items())) + '.', '',
        '## The folders left out', '', '| folder | why |', '|---|---|']
    lines += [f'| {k} | {v} |' for k, v in sorted(EXCLUDED.items())]
    text = '\n'.join(lines) + '\n'
    with open(path, 'w') as f:
        f.write(text)
    return text


def main(argv: Optional[List[str]] = None) -> None:
    """Sweeps the cells asked and renders the page."""
    names = methods()
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--folders', nargs='+', choices=sorted(ZOO_PAIRS),
                        default=sorted(ZOO_PAIRS))
    parser.add_argument('--methods', nargs='+', choices=names, default=names)
    parser.add_argument('--fresh', action='store_true',
                        help='recompute recorded cells too')
    parser.add_argument('--render', action='store_true',
                        help='only render the page from the JSON')
    parser.add_argument('--json', default=RESULTS, help='the cells file')
    parser.add_argument('--doc', default=DOC, help='the page to render')
    args = parser.parse_args(argv)
    cells = load_cells(args.json) if args.render else sweep(
        args.folders, args.methods, args.json, args.fresh)
    render_doc(cells, args.doc)
    print(summary(cells))


if __name__ == '__main__':
    main()
