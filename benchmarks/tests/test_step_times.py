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


def test_methods_timed_apart_keep_their_own_baseline(tmp_path, monkeypatch,
                                                      make_tiny_config):
    """``--step-times --methods M``: only M and the plain student are timed;
    M's ratio is against the plain student of the same sweep, and the
    suite's other entries (the plain student's included) stay as kept."""
    tiny = make_tiny_config('configs/tiny/retinanet_r18w16_fpn_500it_'
                            'synthetic.py', 'img_scale = (64, 64)\n')
    monkeypatch.setattr(results, 'SUITES', {'toy': Suite(
        'synthetic', 'retinanet', tiny,
        {'longer': tiny, 'other': 'configs/missing.py'})})
    monkeypatch.setattr(step_times, 'SUITES', results.SUITES)
    before = {'toy': {BASELINE: dict(median_ms=1e9, max_iters=4),
                      'other': dict(median_ms=2e9, max_iters=4)}}
    step_times.write_text_atomic(str(tmp_path / step_times.STEP_FILE),
                                 step_times.json.dumps(before))
    kept = step_times.measure_step_times(['toy'], str(tmp_path), rounds=1,
                                         iters=2, points=1,
                                         methods=['longer'])
    assert kept['toy'][BASELINE] == before['toy'][BASELINE]
    assert kept['toy']['other'] == before['toy']['other']
    longer = kept['toy']['longer']
    assert 0 < longer['baseline_ms'] < 1e9
    ratio = step_times.ratios(kept['toy'], 'longer', BASELINE)
    assert ratio['step'] == longer['median_ms'] / longer['baseline_ms']
    assert step_times.ratios(kept['toy'], 'other', BASELINE)['step'] == 2.0


def test_ratios_need_both_timed():
    steps = {BASELINE: dict(median_ms=50.0, max_iters=500),
             'era': dict(error='killed')}
    assert step_times.ratios(steps, 'era', BASELINE) is None
    assert step_times.ratios(steps, 'pkd', BASELINE) is None
    assert step_times.ratios({}, BASELINE, BASELINE) is None
