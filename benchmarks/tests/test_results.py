"""The main results table (benchmarks.results, results_table, report_split):
its suites' configs, and the whole protocol on fake runs (no training)."""
import json
import os
import os.path as osp
import shutil
import sys
import threading
import types

import pytest
import torch
from mmengine.config import Config

from benchmarks import report_split, results
from benchmarks.paths import REPO_ROOT, repo_path
from benchmarks.report_split import (
    REPORT_FILE,
    ReportSplit,
    evaluate,
    report_command,
    split_options,
)
from benchmarks.results import SUITES, Suite, run_benchmark, run_dir, run_one
from benchmarks.results_table import BASELINE, method_row, summarize_suite
from benchmarks.run_logs import scalar_rows
from benchmarks.run_records import compact_rows, weights_sha256
from benchmarks.suites import MAIN_SUITES
from benchmarks.training import finished_run, train_command

#: the methods each suite compares
EXPECTED = {
    'synthetic-retinanet': ['baseline', 'cost-matched', 'head-init',
                            'fitnet', 'pkd', 'crosskd', 'era', 'era-fast'],
    'synthetic-gfl': ['baseline', 'cost-matched', 'head-init', 'ld',
                      'crosskd', 'era'],
    'deepforest-retinanet': ['baseline', 'cost-matched', 'head-init',
                             'fitnet', 'pkd', 'era', 'crosskd'],
    'synthetic-ablations': ['baseline', 'era', 'era-notwi', 'era-k0',
                            'era-k1', 'era-k2', 'era-1block',
                            'era-separable', 'era-sampled', 'era-last',
                            'era-nonorm', 'era-headinit', 'era-twidetach',
                            'head-init-cost-matched',
                            'era-fast-850it'],
}


# -- the suites -------------------------------------------------------------

def test_suites_and_their_configs():
    """Every method of every suite has its config; the suites share runs
    where they share a config (the ablations' baseline and ERA)."""
    assert SUITES['synthetic-gfl'].methods['cost-matched'] == (
        'configs/tiny/gfl_r18w16_fpn_2050it_synthetic.py')
    assert {s: list(SUITES[s].configs()) for s in EXPECTED} == EXPECTED
    assert [(SUITES[s].data, SUITES[s].detector) for s in EXPECTED] == [
        ('synthetic', 'retinanet'), ('synthetic', 'gfl'),
        ('deepforest', 'retinanet'), ('synthetic', 'retinanet')]
    for suite, spec in SUITES.items():
        for method, config in spec.configs().items():
            assert osp.isfile(repo_path(config)), (suite, method, config)
    for method in (BASELINE, 'era'):
        assert run_dir('/w', 'synthetic-ablations', method, 1) == run_dir(
            '/w', 'synthetic-retinanet', method, 1)
    assert run_dir('/w', 'synthetic-retinanet', 'era', 2) == \
        '/w/era_retinanet_r34w32-r18w16_fpn_500it_synthetic_seed2'


def test_a_missing_config_is_a_row_not_a_crash(tmp_path, monkeypatch):
    config = 'configs/crosskd/not_written_yet.py'
    monkeypatch.setattr(results, 'SUITES', {'toy': Suite(
        'synthetic', 'retinanet', TOY.baseline, {'crosskd': config})})
    run = run_one(str(tmp_path), 'toy', 'crosskd', 0)
    assert run == dict(error=f'no config: {config}', no_config=True)
    row = summarize_suite({'crosskd': {0: run}})['methods']['crosskd']
    assert method_row('crosskd', row).startswith(
        f'| CrossKD | no config: {config} |')


def _student(model):
    """The student detector of a config's model: ``model.student`` for
    mmera's distillers, the model itself otherwise (plain students,
    head-init, mmdet's LD detector)."""
    return model.student if 'student' in model else model


def _head(detector):
    """A dense detector's head, or a two-stage one's RoI box head."""
    return detector.get('bbox_head') or detector.roi_head.bbox_head


def test_every_method_config_builds_and_trains_the_baselines_student():
    for suite, spec in SUITES.items():
        base = Config.fromfile(repo_path(spec.baseline)).model
        for method, config in spec.methods.items():
            if not osp.isfile(repo_path(config)):
                continue
            cfg = Config.fromfile(repo_path(config))
            student = _student(cfg.model)
            where = (suite, method)
            if student.type == 'KnowledgeDistillationSingleStageDetector':
                assert method == 'ld', where  # mmdet's LD: the student
                assert student.bbox_head.type == 'LDHead', where
            else:
                assert student.type == base.type, where
                assert _head(student).type == _head(base).type, where
            assert student.backbone == base.backbone, where
            assert student.neck == base.neck, where
            assert _head(student).num_classes == _head(base).num_classes, \
                where


# -- the report split -------------------------------------------------------

@pytest.mark.parametrize('suite', list(SUITES))
def test_split_options_point_the_test_split_at_instances_test(suite):
    spec = SUITES[suite]
    opts = split_options(spec.data)
    assert all(osp.isabs(o.split('=', 1)[1]) for o in opts)
    cfg = Config.fromfile(repo_path(spec.baseline))
    cfg.merge_from_dict(dict(o.split('=', 1) for o in opts))
    ann = osp.join(REPO_ROOT, 'data', spec.data, 'annotations',
                   'instances_test.json')
    assert cfg.test_dataloader.dataset.ann_file == ann
    assert cfg.test_evaluator.ann_file == ann
    assert cfg.test_dataloader.dataset.data_prefix.img == osp.join(
        REPO_ROOT, 'data', spec.data, 'test/')
    cmd = report_command(spec.baseline, '/r/iter_500.pth',
                         '/r/report_split', spec.data)
    assert cmd[1:] == [osp.join(REPO_ROOT, 'tools', 'test.py'),
                       repo_path(spec.baseline), '/r/iter_500.pth',
                       '--work-dir', '/r/report_split', '--cfg-options',
                       *opts]


def _split(tmp_path, data='synthetic', exists=True):
    """A report split of ``data`` in ``tmp_path`` (its annotation file
    written when ``exists``)."""
    ann = tmp_path / 'split' / data / 'instances_test.json'
    if exists:
        ann.parent.mkdir(parents=True, exist_ok=True)
        ann.write_text('{}')
    return ReportSplit(str(ann), str(ann.parent) + '/', f'make {data}-test')


def _checkpoint(run, name, content=b'weights'):
    os.makedirs(run, exist_ok=True)
    with open(osp.join(run, name), 'wb') as f:
        f.write(content)
    with open(osp.join(run, 'last_checkpoint'), 'w') as f:
        f.write(osp.join(run, name))


def test_report_cache_is_recomputed_when_the_checkpoint_changes(
        tmp_path, monkeypatch):
    monkeypatch.setitem(report_split.SPLITS, 'synthetic', _split(tmp_path))
    calls = []

    def fake_test(cmd, work_dir):
        calls.append(cmd[3])  # the checkpoint
        assert any(o.endswith('instances_test.json') for o in cmd)
        return dict(mAP=0.1 * len(calls), mAP50=0.2)

    monkeypatch.setattr(report_split, 'run_test', fake_test)
    run = str(tmp_path / 'run')
    config = SUITES['synthetic-retinanet'].baseline
    _checkpoint(run, 'iter_250.pth')
    first = evaluate(config, run, 'synthetic')
    assert first == dict(mAP=0.1, mAP50=0.2, checkpoint='iter_250.pth')
    assert evaluate(config, run, 'synthetic') == first  # cached
    assert len(calls) == 1
    with open(osp.join(run, REPORT_FILE)) as f:
        assert json.load(f)['metrics'] == first
    _checkpoint(run, 'iter_500.pth')  # the run went on
    assert evaluate(config, run, 'synthetic')['checkpoint'] == 'iter_500.pth'
    _checkpoint(run, 'iter_500.pth', b'retrained')  # same name, new file
    assert evaluate(config, run, 'synthetic')['mAP'] == pytest.approx(0.3)
    assert calls == [osp.join(run, n) for n in (
        'iter_250.pth', 'iter_500.pth', 'iter_500.pth')]
    evaluate(config, run, 'synthetic')  # cached again
    assert len(calls) == 3


def test_missing_split_names_the_command_that_makes_it(tmp_path,
                                                       monkeypatch):
    monkeypatch.setitem(report_split.SPLITS, 'synthetic',
                        _split(tmp_path, exists=False))
    monkeypatch.setattr(report_split, 'run_test', pytest.fail)
    _checkpoint(str(tmp_path / 'run'), 'iter_500.pth')
    out = evaluate('c.py', str(tmp_path / 'run'), 'synthetic')
    assert 'instances_test.json is missing' in out['error']
    assert 'make synthetic-test' in out['error']


# -- the protocol on fake runs ----------------------------------------------

#: report-split mAP of each fake run: method -> per seed
FAKE_MAP = {BASELINE: [0.10, 0.12, 0.11], 'pkd': [0.11, 0.11, 0.12],
            'era': [0.15, 0.17, 0.16]}
TOY = Suite('synthetic', 'retinanet',
            SUITES['synthetic-retinanet'].baseline, {
                'pkd': SUITES['synthetic-retinanet'].methods['pkd'],
                'era': SUITES['synthetic-retinanet'].methods['era'],
                'crosskd': 'configs/crosskd/not_written_yet.py'})
#: the toy suite's config names -> its methods (the run dirs' names)
TOY_METHODS = {osp.splitext(osp.basename(c))[0]: m
               for m, c in TOY.configs().items()}


class FakeRuns:
    """``train`` and ``run_test`` without training: the files a finished
    run writes, and metrics from :data:`FAKE_MAP`."""

    def __init__(self, fail=(), barrier=None):
        self.trained, self.tested, self.fail = [], [], set(fail)
        self.threads, self.barrier = [], barrier
        self.lock = threading.Lock()

    @staticmethod
    def _key(work_dir):
        # run dirs are named by config: <config name>_seed<seed>
        stem, seed = osp.basename(work_dir).rsplit('_seed', 1)
        return TOY_METHODS[stem], int(seed)

    def train(self, config, work_dir, options, label, reuse=False):
        cmd = train_command(config, work_dir, options)
        if reuse and finished_run(work_dir, cmd):  # as the real train
            return
        with self.lock:
            self.trained.append(label)
            self.threads.append(os.environ.get('OMP_NUM_THREADS'))
        if self.barrier is not None:  # two runs must be in here at once
            self.barrier.wait()
        if label in self.fail:
            raise SystemExit(f'{label} failed; see {work_dir}/log')
        method, seed = self._key(work_dir)
        os.makedirs(osp.join(work_dir, '20250101_000000', 'vis_data'),
                    exist_ok=True)
        m = FAKE_MAP[method][seed]
        with open(osp.join(work_dir, '20250101_000000', 'vis_data',
                           'scalars.json'), 'w') as f:
            for it in (250, 500):
                f.write(json.dumps({'coco/bbox_mAP': m * it / 500 + 0.01,
                                    'coco/bbox_mAP_50': 2 * m,
                                    'step': it}) + '\n')
        _checkpoint(work_dir, 'iter_500.pth')
        seconds = 600.0 if method == 'era' else 200.0
        with open(osp.join(work_dir, 'demo_done.json'), 'w') as f:
            json.dump(dict(cmd=cmd[1:], seconds=seconds), f)

    def run_test(self, cmd, work_dir):
        method, seed = self._key(osp.dirname(work_dir))
        with self.lock:
            self.tested.append((method, seed))
        return dict(mAP=FAKE_MAP[method][seed], mAP50=0.5)


def _write_teacher(path, value: float) -> None:
    """A one-weight teacher checkpoint; another ``value`` is another
    teacher."""
    torch.save(dict(state_dict=dict(w=torch.tensor([value]))), str(path))


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """The toy suite on fake runs; returns a function that installs a
    :class:`FakeRuns` and runs the benchmark."""
    monkeypatch.setattr(results, 'SUITES', {'toy': TOY})
    monkeypatch.setitem(report_split.SPLITS, 'synthetic', _split(tmp_path))
    teachers = []
    monkeypatch.setattr(results, 'ensure_teacher',
                        lambda data, detector, train_missing: teachers.append(
                            (data, detector, train_missing)) or '/t.pth')
    monkeypatch.setattr(results, 'require_data', lambda data: None)
    teacher = tmp_path / 'teacher.pth'
    _write_teacher(teacher, 1.0)
    monkeypatch.setattr(results, 'teacher_ckpt',
                        lambda data, detector: str(teacher))
    monkeypatch.setattr(results, 'teacher_metrics',
                        lambda data, detector: dict(mAP=0.3, mAP50=0.6))
    # the plots have their own test (below): matplotlib is slow
    monkeypatch.setattr(results, 'make_plots', lambda work_dir, runs: None)
    work = str(tmp_path / 'results')

    def run(runs, **kw):
        monkeypatch.setattr(results, 'train', runs.train)
        monkeypatch.setattr(report_split, 'run_test', runs.run_test)
        return run_benchmark(['toy'], [0, 1, 2], work, **kw)

    run.work, run.teachers, run.teacher = work, teachers, teacher
    return run


def _saved(work):
    with open(osp.join(work, 'results.json')) as f:
        return json.load(f)


def test_benchmark_trains_evaluates_and_resumes(fake):
    runs = FakeRuns()
    text = fake(runs)
    assert fake.teachers == [('synthetic', 'retinanet', True)]
    assert sorted(runs.trained) == sorted(
        f'toy {m} s{s}' for m in (BASELINE, 'pkd', 'era') for s in range(3))
    assert runs.trained[:3] == ['toy baseline s0', 'toy pkd s0',
                                'toy era s0']  # seed by seed
    assert len(runs.tested) == 9
    lines = text.splitlines()
    # the header says how much data the report numbers stand on
    assert ('Set synthetic, retinanet teacher: val mAP 0.300, mAP50 0.600. '
            'Report split: 0 images, 0 boxes (few: read its differences '
            'with care).') in lines
    era = next(x for x in lines if x.startswith('| ERA | 0.160'))
    assert era == ('| ERA | 0.160 +- 0.010 (n=3) | 0.500 +- 0.000 (n=3) | '
                   '0.170 +- 0.010 (n=3) | +0.050 +- 0.000 (n=3) | '
                   's0 +0.050, s1 +0.050, s2 +0.050 | above | 10.0 min | '
                   '3.00x | - | - | 3 | - |')  # steps not timed here
    pkd = next(x for x in lines if x.startswith('| PKD |'))
    assert '| s0 +0.010, s1 -0.010, s2 +0.010 | no |' in pkd
    assert any(x.startswith('| CrossKD | no config: configs/crosskd/not_'
                            'written_yet.py |') for x in lines)
    assert ('| PKD | +0.047 +- 0.012 (n=3) | s0 +0.040, s1 +0.060, s2 '
            '+0.040 | above |') in lines  # the "ERA vs each method" table
    saved = _saved(fake.work)
    assert saved['results']['toy']['era']['0']['val_mAP'] == pytest.approx(
        0.16)
    with open(osp.join(fake.work, 'results.md')) as f:
        assert f.read() == text
    # a second call: nothing trained, nothing evaluated, the same table
    again = FakeRuns()
    fake(again)
    assert not again.trained and not again.tested
    assert _saved(fake.work)['summary'] == saved['summary']


def test_failed_run_is_reported_and_the_others_go_on(fake):
    runs = FakeRuns(fail={'toy era s1'})
    text = fake(runs)
    assert len(runs.trained) == 9
    era = next(x for x in text.splitlines() if x.startswith('| ERA |'))
    assert era.endswith('| 2 | s1 |')
    saved = _saved(fake.work)['results']['toy']['era']
    assert 'failed' in saved['1']['error'] and saved['1']['log']
    # the next call retries only the failed run
    again = FakeRuns()
    text = fake(again)
    assert again.trained == ['toy era s1']
    era = next(x for x in text.splitlines() if x.startswith('| ERA |'))
    assert era.endswith('| 3 | - |')


def test_report_only_trains_nothing(fake):
    fake(FakeRuns(fail={'toy pkd s2'}))
    runs = FakeRuns()
    text = fake(runs, report_only=True)
    assert not runs.trained and not runs.tested
    assert next(x for x in text.splitlines()
                if x.startswith('| PKD |')).endswith('| 2 | - |')


def test_step_times_are_measured_once_after_the_runs(fake, monkeypatch):
    """``step_times=True`` times the suites after the runs (their teachers
    exist by then) and the one table written afterwards shows the ratios."""
    runs = FakeRuns()
    timed = []

    def measure(suites, work_dir, methods=None):
        timed.append((list(suites), len(runs.trained), methods))
        steps = {BASELINE: dict(median_ms=100.0, max_iters=500),
                 'era': dict(median_ms=350.0, max_iters=500)}
        with open(osp.join(work_dir, 'step_times.json'), 'w') as f:
            json.dump({'toy': steps}, f)

    monkeypatch.setattr(results, 'measure_step_times', measure)
    text = fake(runs, step_times=True)
    assert timed == [(['toy'], 9, None)]  # once, after all nine runs
    era = next(x for x in text.splitlines() if x.startswith('| ERA |'))
    assert '| 3.50x | 3.50x |' in era
    fake(FakeRuns())  # without it nothing is timed again
    assert len(timed) == 1
    # --methods: those are timed (beside the plain student)
    fake(FakeRuns(), step_times=True, methods=['era'])
    assert timed[-1][::2] == (['toy'], ['era'])


def test_methods_choose_what_trains(fake):
    runs = FakeRuns()
    text = fake(runs, methods=['era'])
    assert sorted(runs.trained) == ['toy era s0', 'toy era s1',
                                    'toy era s2']
    assert next(x for x in text.splitlines()
                if x.startswith('| ERA |')).endswith('| 3 | - |')


def test_plain_students_train_without_waiting_for_the_teacher(fake):
    """Only a method that distils needs the suite's teacher: the plain
    students train while it is missing (or still training)."""
    fake(FakeRuns(), methods=['baseline'])
    assert fake.teachers == []
    fake(FakeRuns(), methods=['baseline', 'era'])
    assert [d for d, _, _ in fake.teachers] == ['synthetic']


def test_parallel_jobs(fake, monkeypatch):
    monkeypatch.delenv('OMP_NUM_THREADS', raising=False)
    monkeypatch.delenv('MKL_NUM_THREADS', raising=False)
    # the first two runs wait for each other: only parallel jobs get past
    runs = FakeRuns(barrier=threading.Barrier(2, timeout=30))
    calls = []
    original = runs.train

    def train(*a, **kw):
        calls.append(a[3])
        if len(calls) > 2:
            runs.barrier = None
        return original(*a, **kw)

    runs.train = train
    text = fake(runs, jobs=2)
    assert len(runs.trained) == 9
    assert set(runs.threads) == {'1'}  # each child on one thread
    assert text.count('| 3 | - |') == 3
    assert 'error' not in json.dumps(_saved(fake.work)['results']['toy'][
        'era'])  # the barrier was passed: the runs did run side by side
    assert 'OMP_NUM_THREADS' not in os.environ  # restored afterwards


def test_threads_of_each_run(fake, monkeypatch):
    """One job keeps torch's default (every core) unless ``threads`` says
    otherwise: a driver beside another one asks for one thread a run."""
    monkeypatch.delenv('OMP_NUM_THREADS', raising=False)
    runs = FakeRuns()
    fake(runs, methods=['baseline'])
    assert set(runs.threads) == {None}
    runs = FakeRuns()
    fake(runs, methods=['baseline'], threads=1, fresh=True)
    assert set(runs.threads) == {'1'} and len(runs.threads) == 3
    assert 'OMP_NUM_THREADS' not in os.environ


def test_distilled_runs_are_redone_when_the_teacher_changes(fake):
    """Runs record the teacher they learned from; a new teacher (retrained,
    or a new shipped copy) retrains the distillers, not the baseline."""
    fake(FakeRuns())
    again = FakeRuns()
    fake(again)
    assert again.trained == []
    _write_teacher(fake.teacher, 2.0)
    third = FakeRuns()
    fake(third)
    assert sorted(third.trained) == sorted(
        f'toy {m} s{s}' for m in ('pkd', 'era') for s in range(3))


def test_a_new_checkout_reuses_the_runs_records(fake, tmp_path,
                                                monkeypatch):
    """The records kept with the repository stand for the runs when their
    work dirs are gone (another checkout): nothing trains or evaluates
    again, the tables and the plots' curves are the same; a new teacher
    retrains the distillers (their records no longer match) and ``fresh``
    everything."""
    records = str(tmp_path / 'records')
    plotted, hashed = [], []
    monkeypatch.setattr(results, 'make_plots',
                        lambda work_dir, curves: plotted.append(curves))
    monkeypatch.setattr(
        results, 'weights_sha256',
        lambda path: hashed.append(path) or weights_sha256(path))
    first = fake(FakeRuns(), records_dir=records)
    # the teacher is hashed once per suite, not once per run
    assert hashed == [str(fake.teacher)]
    assert sorted(os.listdir(records)) == sorted(
        f'{osp.basename(run_dir(fake.work, "toy", m, s))}.json'
        for m in (BASELINE, 'pkd', 'era') for s in range(3))
    shutil.rmtree(fake.work)  # the work dirs are gone with the checkout
    again = FakeRuns()
    second = fake(again, records_dir=records)
    assert again.trained == [] and again.tested == []
    table = [x for x in first.splitlines() if x.startswith('| ')]
    assert [x for x in second.splitlines() if x.startswith('| ')] == table
    assert plotted[1] == plotted[0]
    assert [len(c['rows']) for c in plotted[1]['toy']['ERA']] == [2, 2, 2]
    # report-only reads them too (its teacher ensured without training)
    assert fake(FakeRuns(), records_dir=records, report_only=True).count(
        '| ERA | 0.160 +- 0.010 (n=3)') == 1
    assert fake.teachers[-1] == ('synthetic', 'retinanet', False)
    _write_teacher(fake.teacher, 2.0)
    third = FakeRuns()
    fake(third, records_dir=records)
    assert sorted(third.trained) == sorted(
        f'toy {m} s{s}' for m in ('pkd', 'era') for s in range(3))
    fourth = FakeRuns()
    fake(fourth, records_dir=records, fresh=True)
    assert len(fourth.trained) == 9


def test_a_reread_run_keeps_its_records_source(fake, tmp_path):
    """A finished run read again from its work dir rewrites its record
    with the same numbers and keeps the record's source (a re-keyed
    record's provenance is not lost to the re-read)."""
    records = str(tmp_path / 'records')
    fake(FakeRuns(), records_dir=records)
    path = osp.join(records, osp.basename(
        run_dir(fake.work, 'toy', 'era', 0)) + '.json')
    with open(path) as f:
        record = json.load(f)
    record['source'] += '; re-keyed'
    with open(path, 'w') as f:
        json.dump(record, f)
    again = FakeRuns()
    fake(again, records_dir=records)
    assert again.trained == []
    with open(path) as f:
        kept = json.load(f)
    assert kept['source'] == record['source']
    assert kept['run'] == record['run']


def test_suites_sharing_a_config_share_its_run(fake, monkeypatch):
    """A config listed by two suites (the ablations' baseline and ERA are
    the main suite's) trains once per seed; both suites report it."""
    other = Suite('synthetic', 'retinanet', TOY.baseline,
                  {'era': TOY.methods['era']})
    monkeypatch.setattr(results, 'SUITES', {'toy': TOY, 'toy2': other})
    runs = FakeRuns()
    monkeypatch.setattr(results, 'train', runs.train)
    monkeypatch.setattr(report_split, 'run_test', runs.run_test)
    run_benchmark(['toy', 'toy2'], [0, 1], fake.work, jobs=2)
    # 6 runs, not 10: the shared baseline and ERA once per seed
    assert len(runs.trained) == 6
    assert {label.split(' ', 1)[1] for label in runs.trained} == {
        f'{m} s{seed}' for m in (BASELINE, 'pkd', 'era') for seed in (0, 1)}
    saved = _saved(fake.work)['results']
    for method in (BASELINE, 'era'):
        assert saved['toy2'][method] == saved['toy'][method]
        assert set(saved['toy2'][method]) == {'0', '1'}


def test_missing_report_split_still_reports_val(fake, tmp_path,
                                                monkeypatch):
    runs = FakeRuns()
    monkeypatch.setattr(results, 'train', runs.train)
    monkeypatch.setitem(report_split.SPLITS, 'synthetic',
                        _split(tmp_path / 'none', exists=False))
    monkeypatch.setattr(report_split, 'run_test', pytest.fail)
    text = run_benchmark(['toy'], [0], fake.work)
    assert 'make it with make synthetic-test' in text
    era = next(x for x in text.splitlines() if x.startswith('| ERA |'))
    assert era.startswith('| ERA | - | - | 0.160 | - | - | - | 10.0 min |')


# -- paired differences and the "above" rule --------------------------------

def _runs(values, key='mAP'):
    return {s: {key: v, 'val_mAP': v, 'train_s': 60.0}
            for s, v in enumerate(values)}


def test_summary_pairs_seeds_and_applies_the_above_rule():
    s = summarize_suite({
        BASELINE: _runs([0.10, 0.12, 0.11]),
        'cost-matched': _runs([0.13, 0.11, 0.12]),   # one seed lost
        'fitnet': _runs([0.115, 0.135, 0.125]),      # +0.015 each seed
        'era': {**_runs([0.14, 0.15]), 2: {'error': 'killed'}},
    })
    m = s['methods']
    assert m[BASELINE]['mAP']['mean'] == pytest.approx(0.11)
    assert 'vs_baseline' not in m[BASELINE]
    cm = m['cost-matched']['vs_baseline']
    assert cm['diffs'] == pytest.approx({0: 0.03, 1: -0.01, 2: 0.01})
    assert cm['above'] is False
    fit = m['fitnet']['vs_baseline']
    assert fit['diffs'] == pytest.approx({0: 0.015, 1: 0.015, 2: 0.015})
    assert fit['above'] is True  # 0.015 > both stds (0.01)
    era = m['era']
    assert era['n'] == 2 and era['failed'] == [2]
    assert era['vs_baseline']['diffs'] == pytest.approx({0: 0.04, 1: 0.03})
    assert era['vs_baseline']['above'] is True
    assert era['time_ratio'] == pytest.approx(1.0)
    # ERA - each method, on the seeds both finished
    assert s['era_vs'][BASELINE]['diffs'] == pytest.approx(
        {0: 0.04, 1: 0.03})
    assert s['era_vs']['fitnet']['diffs'] == pytest.approx(
        {0: 0.025, 1: 0.015})
    # ERA - cost-matched: +0.01, +0.04: mean above both stds (0.007, 0.01)
    assert s['era_vs']['cost-matched']['above'] is True
    assert 'era' not in s['era_vs']


def test_step_ratios_come_from_the_timed_steps_and_the_schedules():
    """The train-step column is the timed step over the baseline's; the
    compute column multiplies in the iterations (the cost-matched student:
    the same step, 3.8x the iterations); an untimed method shows '-'."""
    steps = {BASELINE: dict(median_ms=100.0, max_iters=500),
             'cost-matched': dict(median_ms=110.0, max_iters=1900),
             'era': dict(median_ms=380.0, max_iters=500)}
    runs = {BASELINE: _runs([0.10, 0.12]), 'cost-matched': _runs([0.3, 0.3]),
            'era': _runs([0.2, 0.2]), 'fitnet': _runs([0.1, 0.1])}
    m = summarize_suite(runs, steps)['methods']
    assert m['era']['steps'] == pytest.approx(dict(step=3.8, compute=3.8))
    assert m['cost-matched']['steps'] == pytest.approx(
        dict(step=1.1, compute=1.1 * 3.8))
    assert m[BASELINE]['steps'] == pytest.approx(dict(step=1, compute=1))
    assert m['fitnet']['steps'] is None
    cells = [c.strip() for c in method_row('cost-matched',
                                           m['cost-matched']).split('|')]
    assert cells[10:12] == ['1.10x', '4.18x']
    cells = [c.strip() for c in method_row('fitnet', m['fitnet']).split('|')]
    assert cells[10:12] == ['-', '-']
    # nothing timed: no ratios at all
    assert summarize_suite(runs)['methods']['era']['steps'] is None


# -- the plots --------------------------------------------------------------

def test_plots_of_each_suite_are_made_and_linked(fake, monkeypatch):
    calls = []

    def plot(kind):
        def fn(runs, path, title):
            calls.append((kind, runs, osp.basename(path), title))
            open(path, 'w').close()
            return path
        return fn

    module = types.ModuleType('benchmarks.plots')
    module.plot_map_curves = plot('map')
    module.plot_alpha = plot('alpha')
    module.plot_residual_norms = plot('residuals')
    monkeypatch.setitem(sys.modules, 'benchmarks.plots', module)
    monkeypatch.setattr('benchmarks.plots', module, raising=False)
    monkeypatch.setattr(results, 'make_plots', REAL_MAKE_PLOTS)
    text = fake(FakeRuns())

    def rows(method):  # what FakeRuns logged, in the records' compact form
        return [compact_rows(scalar_rows(run_dir(fake.work, 'toy', method,
                                                 s))) for s in range(3)]

    assert calls[0] == ('map', {
        label: rows(m) for label, m in (('baseline', BASELINE),
                                        ('PKD', 'pkd'), ('ERA', 'era'))},
        'toy_map_vs_iter.png', 'toy: val mAP vs iteration')
    assert [len(r) for r in rows('era')] == [2, 2, 2]
    # FakeRuns' ERA sweeps no alpha: each run's sweep is None
    assert calls[1][:3] == ('alpha', [None] * 3, 'toy_era_alpha.png')
    assert calls[2][:3] == ('residuals', rows('era'), 'toy_era_residuals.png')
    for name in ('toy_map_vs_iter.png', 'toy_era_alpha.png',
                 'toy_era_residuals.png'):
        assert f']({name})' in text


def test_plots_are_skipped_without_the_module(tmp_path, monkeypatch,
                                              capsys):
    import benchmarks
    monkeypatch.setitem(sys.modules, 'benchmarks.plots', None)
    monkeypatch.delattr(benchmarks, 'plots', raising=False)
    REAL_MAKE_PLOTS(str(tmp_path), {'toy': {'ERA': [
        dict(rows=[{'step': 1, 'coco/bbox_mAP': 0.1}], alpha_sweep=None)]}})
    assert 'no plots' in capsys.readouterr().out


REAL_MAKE_PLOTS = results.make_plots


# -- the command line -------------------------------------------------------

def test_cli_defaults_and_call(monkeypatch, capsys):
    import benchmarks.__main__ as cli
    args = cli.parse_args([])
    assert args.suites == list(MAIN_SUITES) and args.seeds == [0, 1, 2]
    assert (args.jobs, args.methods, args.report_only, args.fresh) == (
        1, None, False, False)
    assert args.work_dir == osp.join(REPO_ROOT, 'work_dirs', 'results')
    assert cli.METHODS[0] == BASELINE and 'ld' in cli.METHODS
    with pytest.raises(SystemExit):
        cli.parse_args(['--jobs', '0'])
    with pytest.raises(SystemExit):
        cli.parse_args(['--threads', '0'])
    calls = []
    monkeypatch.setattr(cli, 'run_benchmark',
                        lambda *a, **kw: calls.append((a, kw)) or 'table')
    cli.main(['--suites', 'synthetic-gfl', '--methods', 'baseline', 'era',
              '--seeds', '3', '--jobs', '2', '--threads', '1',
              '--work-dir', '/w'])
    assert calls == [((['synthetic-gfl'], [3], '/w'), dict(
        methods=['baseline', 'era'], jobs=2, fresh=False,
        report_only=False, step_times=False, threads=1,
        records_dir=osp.join(REPO_ROOT, 'docs', 'results', 'runs')))]
    assert 'table' in capsys.readouterr().out
    # --step-times: one pass, the runs' step timed inside it
    calls.clear()
    cli.main(['--suites', 'synthetic-gfl', '--report-only', '--step-times',
              '--work-dir', '/w'])
    assert [(kw['report_only'], kw['step_times']) for _, kw in calls] == [
        (True, True)]
    calls.clear()
    cli.main(['--no-records', '--records-dir', '/r'])
    assert calls[0][1]['records_dir'] is None
    cli.main(['--records-dir', '/r'])
    assert calls[1][1]['records_dir'] == '/r'
