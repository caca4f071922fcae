"""The zoo sweep: its folders cover mmdet's zoo, a sample of its cells
(one pair per head family) records the expected categories, a recorded
cell is reused, and the page renders from the records."""
import os
import os.path as osp
import sys

import pytest
from mmengine.utils import get_installed_path

from benchmarks import zoo_support, zoo_sweep
from benchmarks.zoo_folders import EXCLUDED, ZOO_PAIRS, folder_pair

#: (folder, method) -> the category the sweep records
SAMPLE = {
    ('retinanet', 'head-init'): 'trains',
    ('fcos', 'PKD'): 'trains',
    ('faster_rcnn', 'head-init'): 'trains',
    ('detr', 'RKD'): 'refused',
    ('retinanet', 'LD'): 'refused',
    ('solov2', 'ERA'): 'refused',
}


def test_the_folders_cover_the_zoo_and_their_configs_exist():
    zoo = osp.join(get_installed_path('mmdet'), '.mim', 'configs')
    folders = {d for d in os.listdir(zoo)
               if osp.isdir(osp.join(zoo, d)) and d != '__pycache__'}
    assert set(ZOO_PAIRS) | set(EXCLUDED) == folders
    assert not set(ZOO_PAIRS) & set(EXCLUDED)
    for folder in ZOO_PAIRS:
        for config in folder_pair(folder):
            assert osp.isfile(osp.join(zoo, config)), config


def test_a_sample_of_the_sweep(tmp_path, one_thread):
    path, lines = str(tmp_path / 'cells.json'), []
    for (folder, method), expected in SAMPLE.items():
        # one folder through its child process, as the command runs them
        zoo_sweep.sweep([folder], [method], path, size=96, log=lines.append,
                        isolate=(folder, method) == ('retinanet', 'LD'))
    cells = zoo_sweep.load_cells(path)
    got = {(c['folder'], c['method']): c['status'] for c in cells.values()}
    assert got == SAMPLE, {k: cells[zoo_sweep.cell_key(*k)]['message']
                           for k in got if got[k] != SAMPLE[k]}
    detr = cells[zoo_sweep.cell_key('detr', 'RKD')]
    assert 'ChannelMapper' in detr['message'] and detr['traceback'] == ''
    # recorded cells of the same hash are reused, not run again
    again = []
    zoo_sweep.sweep(['detr'], ['RKD'], path, size=96, log=again.append,
                    isolate=False)
    assert again == ['detr | RKD: refused (recorded)']
    families = {c['family'] for c in cells.values()}
    assert families == set(zoo_sweep.FAMILIES)  # one cell per family
    table = zoo_support.family_table(cells)
    # retinanet and fcos are one-stage: head-init trains on the one
    # probed, LD is refused on the other
    assert table[2].startswith('| one-stage (dense head) (2) | ')
    row = dict(zip(['family', *zoo_sweep.methods()],
                   table[2].strip('| ').split(' | ')))
    assert (row['head-init'], row['LD'], row['PKD']) == ('1/1', '0/1',
                                                          '1/1')
    assert row['ERA'] == '0/0'  # not probed here
    text = zoo_support.render_doc(cells, str(tmp_path / 'zoo.md'))
    assert '5 folders x 5 methods = 6 cells: 3 trains, 3 refused, ' \
        '0 unavailable, 0 crashes' in text
    assert '| detr: detr_r101_8xb2-500e_coco -> detr_r50_8xb2-150e_coco |' \
        in text
    assert '| soft_teacher | semi-supervised' in text


@pytest.mark.parametrize('student_death', ['', 'signal SIGSEGV'])
def test_a_cell_that_kills_its_process_is_recorded(tmp_path, monkeypatch,
                                                   student_death):
    """The child probes PKD, then dies of a segmentation fault in RKD: RKD
    is recorded as crashed with the signal (unavailable where the plain
    student alone dies too, which is asked once), LD runs in a new
    child."""
    script = tmp_path / 'child.py'
    script.write_text(
        'import json, os, signal, sys\n'
        'methods = sys.argv[1:]\n'
        'for m in methods:\n'
        '    if m == "RKD":\n'
        '        print("about to fail", file=sys.stderr, flush=True)\n'
        '        os.kill(os.getpid(), signal.SIGSEGV)\n'
        f'    print({zoo_sweep.CELL_MARK!r} + json.dumps(dict(method=m, '
        'seconds=0.1, status="trains", message="", traceback="")), '
        'flush=True)\n')
    monkeypatch.setattr(zoo_sweep, 'child_cmd', lambda folder, names, size: [
        sys.executable, str(script), *names])
    asked = []
    monkeypatch.setattr(zoo_sweep, '_student_death', lambda folder, size:
                        asked.append(folder) or student_death)
    path = str(tmp_path / 'cells.json')
    zoo_sweep.sweep(['fcos'], ['PKD', 'RKD', 'LD'], path, size=96,
                    log=lambda line: None)
    cells = zoo_sweep.load_cells(path)
    status = {c['method']: c['status'] for c in cells.values()}
    assert status == {'PKD': 'trains', 'LD': 'trains', 'RKD': 'unavailable'
                      if student_death else 'crashes'}
    assert asked == ['fcos']
    rkd = cells[zoo_sweep.cell_key('fcos', 'RKD')]
    assert rkd['message'].startswith(
        'the process died in this cell (signal SIGSEGV)')
    assert ('the plain student alone dies too (signal SIGSEGV)' in
            rkd['message']) == bool(student_death)
    assert 'about to fail' in rkd['traceback']
