"""The zoo sweep's tables, from its recorded cells
(``docs/results/zoo_sweep.json``): the summary line, the support matrix in
short (per student family and method), the cross-family pairs, and the
page :data:`benchmarks.zoo_sweep.DOC` with every cell and message. ``make
docs`` writes them (the README's and ``docs/support.md``'s block
``zoo-support``, and the page).
"""
import os.path as osp
import textwrap
from typing import Dict, List

from benchmarks.zoo_folders import (
    CROSS_PAIRS,
    EXCLUDED,
    PAIR_SIZES,
    ZOO_PAIRS,
    folder_pair,
)
from benchmarks.zoo_sweep import (
    DOC,
    FAMILIES,
    NOT_LOADED,
    RESULTS,
    cell_key,
    load_cells,
    methods,
)


def summary(cells: Dict[str, Dict]) -> str:
    """``N folders x M methods = C cells: a trains, b refused, ...``."""
    from mmera.analysis.pair_probe import STATUSES
    folders = {c['folder'] for c in cells.values()}
    names = {c['method'] for c in cells.values()}
    counts = [f"{sum(c['status'] == s for c in cells.values())} {s}"
              for s in STATUSES]
    return (f'{len(folders)} folders x {len(names)} methods = {len(cells)} '
            'cells: ' + ', '.join(counts))


def family_table(cells: Dict[str, Dict]) -> List[str]:
    """The support matrix in short: per student family (zoo folders only)
    and method, ``trains`` in how many of the folders whose configs load
    here, and the crashes, if any."""
    order = methods()
    folders = {c['folder']: c.get('family', NOT_LOADED)
               for c in cells.values() if c['folder'] in ZOO_PAIRS}
    lines = ['| student family (zoo folders) | ' + ' | '.join(order) + ' |',
             '|---|' + '---|' * len(order)]
    for family in FAMILIES:
        members = sorted(f for f, fam in folders.items() if fam == family)
        if not members:
            continue
        row = [f'{family} ({len(members)})']
        for method in order:
            got = [cells.get(cell_key(f, method)) for f in members]
            got = [c for c in got if c and c['status'] != 'unavailable']
            trains = sum(c['status'] == 'trains' for c in got)
            crashes = sum(c['status'] == 'crashes' for c in got)
            row.append(f'{trains}/{len(got)}' + (
                f', {crashes} crash' if crashes else ''))
        lines.append('| ' + ' | '.join(row) + ' |')
    return lines


def unavailable_folders(cells: Dict[str, Dict]) -> List[str]:
    """The folders none of whose cells could run here."""
    by_folder: Dict[str, List[str]] = {}
    for c in cells.values():
        by_folder.setdefault(c['folder'], []).append(c['status'])
    return sorted(f for f, s in by_folder.items()
                  if f in ZOO_PAIRS and set(s) == {'unavailable'})


def cross_table(cells: Dict[str, Dict]) -> List[str]:
    """Each :data:`CROSS_PAIRS` pair's status per method."""
    order = methods()
    lines = ['| pair (across families or backbones) | ' + ' | '.join(order)
             + ' |', '|---|' + '---|' * len(order)]
    for name in CROSS_PAIRS:
        got = [cells.get(cell_key(name, m)) for m in order]
        if any(got):
            lines.append(f'| {name} | ' + ' | '.join(
                c['status'] if c else 'not run' for c in got) + ' |')
    return lines


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


def support_block(path: str = RESULTS) -> List[str]:
    """The lines of the ``zoo-support`` block: the summary, the matrix in
    short, the folders that cannot load here and the cross pairs."""
    cells = load_cells(path)
    lost = unavailable_folders(cells)
    head = (f'{summary(cells)}; per student family, the folders where a '
            'method trains out of those whose configs load here:')
    tail = ('Not loadable here: ' + (', '.join(lost) or 'none') + '. '
            'Across families or backbones:')
    return [*textwrap.wrap(head, 100), '', *family_table(cells), '',
            *textwrap.wrap(tail, 100), '', *cross_table(cells)]


def render_doc(cells: Dict[str, Dict], path: str = DOC) -> str:
    """Writes the page of the sweep (:func:`doc_text`); returns its text."""
    text = doc_text(cells)
    with open(path, 'w') as f:
        f.write(text)
    return text


def doc_text(cells: Dict[str, Dict]) -> str:
    """The page of the sweep: what it takes and leaves, the summary and the
    table."""
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
    lines += ['', '## The pairs across families or backbones', '',
              '| pair | teacher | student |', '|---|---|---|']
    lines += [f'| {name} | {t} | {s} |' for name, (t, s) in
              CROSS_PAIRS.items()]
    lines += ['', 'Image side: 160 px, except ' + ', '.join(
        f'{k}: {v} px' for k, v in sorted(PAIR_SIZES.items())) + '.', '',
        '## The folders left out', '', '| folder | why |', '|---|---|']
    lines += [f'| {k} | {v} |' for k, v in sorted(EXCLUDED.items())]
    return '\n'.join(lines) + '\n'
