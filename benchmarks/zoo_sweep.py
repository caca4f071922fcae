"""The zoo sweep: every method on one teacher -> student pair per mmdet zoo
folder, offline (random weights, ``Pretrained`` inits stripped).

Each (folder, method) cell is built and trained one step on two random
images by :func:`mmera.analysis.pair_probe.probe`: ``trains``, ``refused``
(the method's message), ``unavailable`` (a config that cannot be loaded
here, e.g. an mmpretrain backbone without torchvision) or ``crashes`` (the
traceback is kept; so is a cell that kills its process, e.g. a
segmentation fault in a compiled op: each folder's cells run in a child
process, and a new child goes on with the rest). Cells are written to
:data:`RESULTS` as they finish;
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
import functools
import hashlib
import json
import os
import os.path as osp
import signal
import subprocess
import sys
import tempfile
import time
from typing import Callable, Dict, Iterator, List, Optional

from benchmarks.paths import repo_path
from benchmarks.zoo_folders import (
    CROSS_PAIRS,
    PAIR_SIZES,
    ZOO_PAIRS,
    folder_pair,
)

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


@functools.lru_cache(maxsize=None)
def model_config(config: str) -> Optional[Dict]:
    """A zoo config's model, as the probe builds it (offline), or None
    where it cannot be loaded here; parsed once per config."""
    from mmera.analysis.offline import offline_model
    try:
        return offline_model(config).to_dict()
    except ImportError:
        return None


def pair_hash(folder: str) -> str:
    """A hash of the pair's model configs (their files' text where a config
    cannot be loaded here), so a changed config is swept again."""
    parts = []
    for config in folder_pair(folder):
        model = model_config(config)
        if model is not None:
            parts.append(json.dumps(model, sort_keys=True, default=str))
        else:
            with open(zoo_file(config)) as f:
                parts.append(f.read())
    return hashlib.sha1('\n'.join(parts).encode()).hexdigest()[:12]


#: the student detector families of the support matrix, in its order
FAMILIES = ('one-stage (dense head)', 'two-stage (RPN + RoI head)',
            'query-based (DETR family, Sparse R-CNN, MaskFormer)',
            'single-stage instance segmentation (SOLO, YOLACT, CondInst)')
#: the family of a config that cannot be loaded here
NOT_LOADED = 'not loadable here'


def detector_family(config: str) -> str:
    """The :data:`FAMILIES` entry of a detector config, from its detector's
    class (and, for two-stage ones, its RPN head's type)."""
    from mmdet.models.detectors import (
        DetectionTransformer,
        MaskFormer,
        SingleStageDetector,
        TwoStageDetector,
    )
    from mmdet.models.detectors.single_stage_instance_seg import (
        SingleStageInstanceSegmentor,
    )
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules

    register_all_modules()
    model = model_config(config)
    if model is None:
        return NOT_LOADED
    cls = MODELS.get(model['type'])
    rpn = (model.get('rpn_head') or {}).get('type', '')
    if issubclass(cls, (DetectionTransformer, MaskFormer)) or (
            issubclass(cls, TwoStageDetector) and 'Embedding' in rpn):
        return FAMILIES[2]
    if issubclass(cls, TwoStageDetector):
        return FAMILIES[1]
    if issubclass(cls, SingleStageInstanceSegmentor):
        return FAMILIES[3]
    if issubclass(cls, SingleStageDetector):
        return FAMILIES[0]
    raise ValueError(f'{config}: no family for detector {cls.__name__}')


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


#: the marker of a cell's record in a child's output
CELL_MARK = 'ZOO_CELL '


def probe_cell(folder: str, method: str, size: int) -> Dict:
    """Probes one cell here: ``method``, ``seconds`` and the probe's
    ``status``, ``message`` and ``traceback`` (paths made portable)."""
    from mmera.analysis.pair_probe import probe
    teacher, student = folder_pair(folder)
    start = time.perf_counter()
    result = {k: portable(v) for k, v in probe(method, teacher, student,
                                               size).items()}
    return dict(method=method, seconds=round(time.perf_counter() - start,
                                              1), **result)


def child_cmd(folder: str, method_names: List[str], size: int) -> List[str]:
    """The command of a child that probes ``folder``'s cells in turn."""
    return [sys.executable, '-m', 'benchmarks.zoo_sweep', '--child', folder,
            '--size', str(size), '--methods', *method_names]


def probe_folder(folder: str, method_names: List[str], size: int,
                 isolate: bool = True) -> Iterator[Dict]:
    """Yields each cell's probe (:func:`probe_cell`) as it finishes.

    With ``isolate``, the cells run in a child process, so a cell that
    kills its process (a segmentation fault in a compiled op, the memory
    killer) is recorded as ``crashes`` with the signal and the child's last
    output (``unavailable`` where the plain student alone dies too: the
    method is not what kills it), and the folder's other cells run in a new
    child.
    """
    if not isolate:
        for method in method_names:
            yield probe_cell(folder, method, size)
        return
    todo = list(method_names)
    student_death = None  # how the plain student alone ends, once asked
    while todo:
        with tempfile.TemporaryFile('w+') as err:
            proc = subprocess.Popen(child_cmd(folder, todo, size),
                                    stdout=subprocess.PIPE, stderr=err,
                                    text=True, cwd=repo_path(''))
            for line in proc.stdout:
                if line.startswith(CELL_MARK):
                    cell = json.loads(line[len(CELL_MARK):])
                    todo.remove(cell['method'])
                    yield cell
            code = proc.wait()
            if not todo:
                return
            err.seek(0)
            died = _death(code)
            cell = dict(method=todo.pop(0), seconds=None, status='crashes',
                        message=f'the process died in this cell ({died})',
                        traceback=portable(err.read()[-3000:]))
            if student_death is None:  # asked once per folder
                student_death = _student_death(folder, size)
            if student_death:
                cell.update(status='unavailable', message=(
                    f'the process died in this cell ({died}), and the plain '
                    f'student alone dies too ({student_death}) in its '
                    'training step with random weights, without any '
                    'distillation (a compiled op of this machine\'s mmcv or '
                    'torch): the probe cannot tell'))
            yield cell


def _death(code: int) -> str:
    return (f'signal {signal.Signals(-code).name}' if code < 0 else
            f'exit code {code}')


def _student_death(folder: str, size: int) -> str:
    """How a child that trains the folder's plain student alone ends: ''
    when it trains or fails with an exception (the probe's own check then
    tells), else how its process died."""
    proc = subprocess.run(
        [sys.executable, '-m', 'benchmarks.zoo_sweep', '--child', folder,
         '--size', str(size), '--student-alone'],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        cwd=repo_path(''))
    return '' if proc.returncode == 0 else _death(proc.returncode)


def fill_families(cells: Dict[str, Dict], folders: List[str],
                  known: Optional[Dict[str, str]] = None) -> bool:
    """Sets the ``family`` of every recorded cell of ``folders`` (a pure
    function of its student config: nothing is probed again); returns
    whether a cell changed."""
    changed = False
    for folder in folders:
        family = (known or {}).get(folder)
        for cell in cells.values():
            if cell['folder'] != folder:
                continue
            family = family or detector_family(folder_pair(folder)[1])
            changed |= cell.get('family') != family
            cell['family'] = family
    return changed


def sweep(folders: List[str], method_names: List[str], path: str = RESULTS,
          fresh: bool = False, size: Optional[int] = None,
          log: Callable[[str], None] = print,
          isolate: bool = True) -> Dict[str, Dict]:
    """Runs the cells not recorded yet (every cell with ``fresh``), saving
    after each one.

    Args:
        folders: Keys of :data:`ZOO_PAIRS` or :data:`CROSS_PAIRS`.
        method_names: Keys of ``pair_probe.METHODS``.
        path: The JSON file of the cells.
        fresh: Recompute recorded cells too.
        size: The image side (default: :data:`PAIR_SIZES` or :data:`SIZE`).
        log: Called with one line per cell.
        isolate: Each folder's cells in a child process
            (:func:`probe_folder`).

    Returns:
        dict: Every recorded cell by key (those of other folders too).
    """
    cells = load_cells(path)
    for folder in folders:
        config_hash = pair_hash(folder)
        family = detector_family(folder_pair(folder)[1])
        side = size or PAIR_SIZES.get(folder, SIZE)
        hashes = {m: cell_hash(config_hash, m, side) for m in method_names}
        todo = []
        for method in method_names:
            old = cells.get(cell_key(folder, method))
            if old is not None and old['hash'] == hashes[method] and \
                    not fresh:
                log(f'{cell_key(folder, method)}: {old["status"]} '
                    '(recorded)')
            else:
                todo.append(method)
        if fill_families(cells, [folder], {folder: family}):
            save_cells(cells, path)
        teacher, student = folder_pair(folder)
        for probed in probe_folder(folder, todo, side, isolate):
            key = cell_key(folder, probed['method'])
            cells[key] = dict(folder=folder, teacher=teacher,
                              student=student, size=side,
                              hash=hashes[probed['method']], family=family,
                              **probed)
            save_cells(cells, path)
            log(f'{key}: {probed["status"]} {probed["message"][:100]} '
                f'({probed["seconds"]} s)')
    return cells


def main(argv: Optional[List[str]] = None) -> None:
    """Sweeps the cells asked and renders the page."""
    names = methods()
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    folders = [*sorted(ZOO_PAIRS), *CROSS_PAIRS]
    parser.add_argument('--folders', nargs='+', choices=folders,
                        default=folders, help='zoo folders or cross pairs')
    parser.add_argument('--methods', nargs='+', choices=names, default=names)
    parser.add_argument('--fresh', action='store_true',
                        help='recompute recorded cells too')
    parser.add_argument('--render', action='store_true',
                        help='only render the page from the JSON')
    parser.add_argument('--json', default=RESULTS, help='the cells file')
    parser.add_argument('--doc', default=DOC, help='the page to render')
    parser.add_argument('--child', metavar='FOLDER', choices=folders,
                        help=argparse.SUPPRESS)  # probe_folder's child
    parser.add_argument('--size', type=int, help=argparse.SUPPRESS)
    parser.add_argument('--student-alone', action='store_true',
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child and args.student_alone:  # the exit code tells
        from mmera.analysis.pair_probe import student_trains
        student_trains(*folder_pair(args.child), args.size)
        return
    if args.child:  # print each cell's probe as it finishes
        for method in args.methods:
            print(CELL_MARK + json.dumps(probe_cell(args.child, method,
                                                    args.size)), flush=True)
        return
    if args.render:  # the recorded cells, their families filled in
        cells = load_cells(args.json)
        if fill_families(cells, sorted({c['folder']
                                        for c in cells.values()})):
            save_cells(cells, args.json)
    else:
        cells = sweep(args.folders, args.methods, args.json, args.fresh)
    from benchmarks.zoo_support import render_doc, summary
    render_doc(cells, args.doc)
    print(summary(cells))


if __name__ == '__main__':
    main()
