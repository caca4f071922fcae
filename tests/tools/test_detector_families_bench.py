"""``tools/benchmark/detector_families.py``: its aggregation and tables, on
fake metrics and fake finished runs (no training)."""
import importlib.util
import json
import os
import os.path as osp

import pytest
from mmengine.config import Config

from cli_helpers import REPO_ROOT, TOOLS
from mmera.runs.teachers import teacher_ckpt, teacher_config

SCRIPT = osp.join(TOOLS, 'benchmark', 'detector_families.py')


@pytest.fixture(scope='module')
def bench():
    spec = importlib.util.spec_from_file_location('families_bench', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(m, m50, seconds=60.0):
    return {'mAP': m, 'mAP50': m50, 'train_s': seconds}


FAKE = {
    'fcos': {
        'teacher': {0: _run(0.20, 0.35, 600.0)},
        'student': {0: _run(0.10, 0.20), 1: _run(0.12, 0.22),
                    2: _run(0.11, 0.21)},
        'era': {0: _run(0.13, 0.24, 180.0), 1: _run(0.12, 0.25, 180.0),
                2: {'error': 'era s2 failed; see log'}},
        'era-halftwi': {0: _run(0.127, 0.23, 90.0), 1: _run(0.13, 0.22, 90.0)},
    },
    'rtmdet': {
        'teacher': {},
        'student': {0: _run(0.05, 0.10)},
        'era': {},
    },
    'fasterrcnn': {
        'teacher': {0: _run(0.30, 0.50, 900.0)},
        'student': {0: _run(0.20, 0.40), 1: _run(0.22, 0.42)},
        'era': {0: _run(0.25, 0.45, 240.0), 1: _run(0.26, 0.46, 240.0)},
        'pkd': {0: _run(0.21, 0.41, 120.0), 1: _run(0.20, 0.44, 120.0)},
    },
}


def test_mean_std_and_paired_diffs(bench):
    assert bench.mean_std([]) is None
    assert bench.mean_std([0.5]) == dict(mean=0.5, std=0.0, n=1)
    stat = bench.mean_std([0.1, 0.2, 0.3])
    assert stat['mean'] == pytest.approx(0.2)
    assert stat['std'] == pytest.approx(0.1)  # sample std
    assert stat['n'] == 3
    base = {0: {'mAP': 0.1}, 1: {'mAP': 0.2}, 2: {'mAP': 0.3}}
    era = {0: {'mAP': 0.15}, 2: {'mAP': 0.25}, 3: {'mAP': 0.9}}
    diffs = bench.paired_diffs(base, era, 'mAP')
    assert list(diffs) == [0, 2]  # only the seeds with both runs
    assert diffs[0] == pytest.approx(0.05)
    assert diffs[2] == pytest.approx(-0.05)


def test_summarize_pairs_the_finished_seeds(bench):
    s = bench.summarize(FAKE)
    fcos = s['fcos']
    assert fcos['teacher']['mAP'] == 0.20
    assert fcos['mAP']['baseline']['n'] == 3
    assert fcos['mAP']['baseline']['mean'] == pytest.approx(0.11)
    era = fcos['mAP']['methods']['era']
    # fcos has no PKD runs
    assert list(fcos['mAP']['methods']) == ['era', 'era-halftwi']
    assert era['stat']['n'] == 2  # the failed seed is left out
    assert era['diffs'] == pytest.approx({0: 0.03, 1: 0.0})
    assert era['diff']['mean'] == pytest.approx(0.015)
    assert fcos['mAP50']['methods']['era']['diffs'] == pytest.approx(
        {0: 0.04, 1: 0.03})
    assert fcos['train_s']['teacher']['mean'] == 600.0
    assert fcos['train_s']['era']['mean'] == 180.0
    assert fcos['failed'] == {'era': [2]}
    rtm = s['rtmdet']
    assert rtm['teacher'] is None
    rtm_era = rtm['mAP']['methods']['era']
    assert rtm_era['stat'] is None and rtm_era['diff'] is None
    assert rtm_era['diffs'] == {}
    assert rtm['failed'] == {}
    # the cheaper setting's gain as a share of full ERA's: the ratio of the
    # mean gains (0.0185 / 0.015) and each seed's (0.027 / 0.03; s1: ERA
    # gained nothing)
    share = fcos['mAP']['methods']['era-halftwi']['share']
    assert share['mean'] == pytest.approx(0.0185 / 0.015)
    assert share['per_seed'][0] == pytest.approx(0.9)
    assert share['per_seed'][1] != share['per_seed'][1]  # NaN
    assert 'share' not in fcos['mAP']['methods']['era']
    assert bench.gain_share({0: 0.01}, {0: -0.02}) is None  # ERA lost
    assert bench.gain_share({0: 0.01}, {1: 0.02}) is None  # no common seed
    frcnn = s['fasterrcnn']['mAP']['methods']
    assert list(frcnn) == ['era', 'pkd']
    assert frcnn['pkd']['diffs'] == pytest.approx({0: 0.01, 1: -0.02})
    assert frcnn['era']['diff']['mean'] == pytest.approx(0.045)


def test_markdown_tables(bench):
    text = bench.markdown(bench.summarize(FAKE))
    lines = text.splitlines()
    assert '### bbox mAP' in lines and '### bbox mAP50' in lines
    assert '### Wall-clock per run' in lines
    row = next(line for line in lines if line.startswith('| fcos | 0.200'))
    assert '0.110 +- 0.010 (n=3)' in row
    assert '0.125 +- 0.007 (n=2)' in row
    assert '+0.015 +- 0.021 (n=2)' in row
    assert 's0 +0.030, s1 +0.000' in row
    row50 = next(line for line in lines if line.startswith('| fcos | 0.350'))
    assert 's0 +0.040, s1 +0.030' in row50
    rtm = next(line for line in lines if line.startswith('| rtmdet | -'))
    assert rtm == '| rtmdet | - | 0.050 | ERA | - | - | - | - |'
    fast = next(line for line in lines
                if '| ERA sampled, TWI on half the steps |' in line)
    assert fast.endswith('| s0 +0.027, s1 +0.010 | 123% (s0 90%, s1 nan%) |')
    pkd = [line for line in lines if line.startswith('| fasterrcnn | 0.300')
           and '| PKD |' in line]
    assert pkd == ['| fasterrcnn | 0.300 | 0.210 +- 0.014 (n=2) | PKD | '
                   '0.205 +- 0.007 (n=2) | -0.005 +- 0.021 (n=2) | '
                   's0 +0.010, s1 -0.020 | - |']
    clock = next(line for line in lines if line.startswith('| fcos | 10.0'))
    assert clock == ('| fcos | 10.0 min | 1.0 min | 3.0 min | - | 1.5 min | '
                     '- | era seeds [2] |')
    clock = next(line for line in lines
                 if line.startswith('| fasterrcnn | 15.0'))
    assert clock == ('| fasterrcnn | 15.0 min | 1.0 min | 4.0 min | - | - | '
                     '2.0 min | - |')
    # every table row has the header's number of cells
    for line in lines:
        if line.startswith('| family'):
            cells = line.count('|')
        elif line.startswith('|'):
            assert line.count('|') == cells, line


def _fake_run(path, m, m50, seconds, alpha_sweep=False):
    os.makedirs(osp.join(path, '20250101_000000', 'vis_data'))
    with open(osp.join(path, '20250101_000000', 'vis_data', 'scalars.json'),
              'w') as f:
        f.write(json.dumps({'loss': 1.0, 'step': 1}) + '\n')
        f.write(json.dumps({'coco/bbox_mAP': m / 2, 'coco/bbox_mAP_50': 0.0,
                            'step': 250}) + '\n')
        f.write(json.dumps({'coco/bbox_mAP': m, 'coco/bbox_mAP_50': m50,
                            'step': 500}) + '\n')
    with open(osp.join(path, 'demo_done.json'), 'w') as f:
        json.dump({'cmd': ['x'], 'seconds': seconds}, f)
    if alpha_sweep:
        with open(osp.join(path, 'alpha_sweep.json'), 'w') as f:
            json.dump([{'results': {
                '0.0': {'coco/bbox_mAP': 0.1, 'coco/bbox_mAP_50': 0.2},
                '0.5': {'coco/bbox_mAP': 0.3, 'coco/bbox_mAP_50': 0.4}}}], f)


def test_collect_and_report_read_finished_runs(bench, tmp_path,
                                               monkeypatch):
    work = str(tmp_path / 'families')
    monkeypatch.setattr(bench, 'teacher_work_dir',
                        lambda data, detector: str(tmp_path / detector))
    _fake_run(str(tmp_path / 'gfl'), 0.3, 0.5, 900.0)
    _fake_run(bench.run_dir(work, 'gfl', 'student', 0), 0.1, 0.2, 100.0)
    _fake_run(bench.run_dir(work, 'gfl', 'era', 0), 0.15, 0.25, 300.0,
              alpha_sweep=True)
    # unfinished (no marker): left out
    os.makedirs(bench.run_dir(work, 'gfl', 'era', 1))
    results = bench.collect(work, ['gfl'], [0, 1], list(bench.METHODS))
    assert results['gfl']['teacher'] == {0: _run(0.3, 0.5, 900.0)}
    assert results['gfl']['student'] == {0: _run(0.1, 0.2, 100.0)}
    assert results['gfl']['era'][0]['st'] == dict(mAP=0.3, mAP50=0.4,
                                                  alpha=0.5)
    assert 1 not in results['gfl']['era']
    text = bench.write_report(work, results, dict(seeds=[0, 1],
                                                  updated='now'))
    assert ('| gfl | 0.300 | 0.100 | ERA | 0.150 | +0.050 | s0 +0.050 | - |'
            in text)
    with open(osp.join(work, 'results.md')) as f:
        assert f.read() == text
    with open(osp.join(work, 'results.json')) as f:
        saved = json.load(f)
    assert saved['summary']['gfl']['mAP']['methods']['era']['diffs'] == {
        '0': pytest.approx(0.05)}


def test_families_configs_exist_and_pair_with_the_teachers(bench):
    """Each family's distiller configs train its student config and load
    the teacher that mmera.runs.teachers trains and publishes."""
    assert list(bench.FAMILIES) == ['fcos', 'atss', 'gfl', 'rtmdet',
                                    'fasterrcnn']
    for family, configs in bench.FAMILIES.items():
        student = Config.fromfile(osp.join(REPO_ROOT, configs['student']))
        assert set(configs) - {'student'} <= set(bench.DISTILLERS)
        for method in set(configs) - {'student'}:
            cfg = Config.fromfile(osp.join(REPO_ROOT, configs[method]))
            assert cfg.model.student == student.model, (family, method)
            assert osp.normpath(cfg.model.teacher_config) == teacher_config(
                'synthetic', family)
            assert osp.normpath(cfg.model.teacher_ckpt) == teacher_ckpt(
                'synthetic', detector=family)
            assert student.train_cfg == cfg.train_cfg
            assert student.train_dataloader == cfg.train_dataloader
    assert bench.family_methods('fcos', bench.METHODS) == [
        'teacher', 'student', 'era', 'era-sampled', 'era-halftwi']
    assert bench.family_methods('gfl', bench.METHODS) == [
        'teacher', 'student', 'era']
    assert bench.family_methods('fasterrcnn', ['pkd', 'student']) == [
        'student', 'pkd']


def test_parse_args_defaults(bench):
    args = bench.parse_args([])
    assert args.families == ['fcos', 'atss', 'gfl', 'rtmdet', 'fasterrcnn']
    assert args.seeds == [0, 1, 2]
    assert args.methods == ['teacher', 'student', 'era', 'era-sampled',
                            'era-halftwi', 'pkd']
    args = bench.parse_args(['--families', 'gfl', '--seeds', '3',
                             '--methods', 'era'])
    assert (args.families, args.seeds, args.methods) == (['gfl'], [3],
                                                         ['era'])
