"""The results table's train-step times: one child process per config."""
import pytest
from mmengine.config import Config

from benchmarks import results, step_times
from benchmarks.suites import BASELINE, Suite

# faster for these CPU steps on a shared 2-core machine
pytestmark = pytest.mark.usefixtures('one_thread')


def test_step_times_are_measured_per_config_and_kept(tmp_path, monkeypatch,
                                                     make_tiny_config):
    """``--step-times``: each config of the suite timed in a child process
    of its own (a real tiny model), the medians kept beside the tables and
    merged with other suites'."""
    tiny = make_tiny_config('configs/tiny/retinanet_r18w16_fpn_500it_'
                            'synthetic.py', 'img_scale = (64, 64)\n')
    monkeypatch.setattr(results, 'SUITES', {'toy': Suite(
        'synthetic', 'retinanet', tiny, {})})
    monkeypatch.setattr(step_times, 'SUITES', results.SUITES)
    step_times.write_text_atomic(str(tmp_path / step_times.STEP_FILE),
                                 '{"other": {"baseline": {}}}')
    kept = step_times.measure_step_times(['toy'], str(tmp_path), rounds=1,
                                         iters=2, points=1)
    assert set(kept) == {'other', 'toy'}
    base = kept['toy'][BASELINE]
    assert base['median_ms'] > 0
    assert base['max_iters'] == Config.fromfile(tiny).train_cfg.max_iters
    assert step_times.load_step_times(str(tmp_path)) == kept


def _fake_sweep(times, swept):
    """A sweep that records the names it was asked to time and returns
    ``times`` (name -> result) for them, in place of the child processes
    that ``test_step_times_are_measured_per_config_and_kept`` runs."""
    def sweep(names, rounds, command, mark):
        swept.append(list(names))
        return {n: dict(times[n]) for n in names}
    return sweep


def test_methods_timed_apart_keep_their_own_baseline(tmp_path, monkeypatch):
    """``--step-times --methods M``: only M and the plain student are timed;
    M's ratios are to the plain student of the same sweep, and the suite's
    other entries (the plain student's included) stay as kept."""
    monkeypatch.setattr(step_times, 'SUITES', {
        'toy': Suite('synthetic', 'retinanet', 'a.py',
                     {'longer': 'b.py', 'other': 'c.py'}),
        'apart': Suite('synthetic', 'retinanet', 'a.py', {'x': 'd.py'})})
    swept = []
    monkeypatch.setattr(step_times, 'sweep', _fake_sweep({
        BASELINE: dict(median_ms=100.0, p25_ms=90.0, p75_ms=110.0,
                       max_iters=500),
        'longer': dict(median_ms=300.0, p25_ms=290.0, p75_ms=310.0,
                       max_iters=1000)}, swept))
    before = {'toy': {BASELINE: dict(error='killed'),
                      'other': dict(median_ms=40.0, max_iters=4)}}
    step_times.write_text_atomic(str(tmp_path / step_times.STEP_FILE),
                                 step_times.json.dumps(before))
    kept = step_times.measure_step_times(['toy', 'apart'], str(tmp_path),
                                         methods=['longer'])
    # the suite without the method is not swept at all
    assert swept == [[BASELINE, 'longer']]
    assert kept['toy'][BASELINE] == before['toy'][BASELINE]
    assert kept['toy']['other'] == before['toy']['other']
    assert kept['toy']['longer']['baseline'] == dict(median_ms=100.0,
                                                     max_iters=500)
    assert step_times.ratios(kept['toy'], 'longer', BASELINE) == dict(
        step=3.0, compute=6.0)
    assert step_times.ratios(kept['toy'], 'other', BASELINE) is None
    assert step_times.load_step_times(str(tmp_path)) == kept


def test_a_method_timed_apart_without_its_plain_student_has_no_ratio(
        tmp_path, monkeypatch):
    """The plain student timed beside it failed: the method's entry says so
    rather than borrowing the plain student of another sweep; a suite not
    timed before is kept as timed."""
    monkeypatch.setattr(step_times, 'SUITES', {
        'toy': Suite('synthetic', 'retinanet', 'a.py', {'m': 'b.py',
                                                        'n': 'c.py'})})
    swept = []
    monkeypatch.setattr(step_times, 'sweep', _fake_sweep({
        BASELINE: dict(error='killed'),
        'm': dict(median_ms=300.0, max_iters=500)}, swept))
    step_times.write_text_atomic(
        str(tmp_path / step_times.STEP_FILE),
        '{"toy": {"baseline": {"median_ms": 150.0, "max_iters": 500}}}')
    kept = step_times.measure_step_times(['toy'], str(tmp_path),
                                         methods=['m'])
    assert kept['toy']['m'] == dict(
        error='the plain student timed beside it failed: killed')
    assert step_times.ratios(kept['toy'], 'm', BASELINE) is None
    # nothing kept for the suite yet: the sweep is its entry
    (tmp_path / step_times.STEP_FILE).unlink()
    kept = step_times.measure_step_times(['toy'], str(tmp_path),
                                         methods=['m'])
    assert swept[-1] == [BASELINE, 'm']
    assert kept == {'toy': {BASELINE: dict(error='killed'),
                            'm': dict(median_ms=300.0, max_iters=500)}}


def test_ratios_need_both_timed():
    steps = {BASELINE: dict(median_ms=50.0, max_iters=500),
             'era': dict(error='killed')}
    assert step_times.ratios(steps, 'era', BASELINE) is None
    assert step_times.ratios(steps, 'pkd', BASELINE) is None
    assert step_times.ratios({}, BASELINE, BASELINE) is None
