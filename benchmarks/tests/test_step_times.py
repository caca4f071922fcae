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


def test_ratios_need_both_timed():
    steps = {BASELINE: dict(median_ms=50.0, max_iters=500),
             'era': dict(error='killed')}
    assert step_times.ratios(steps, 'era', BASELINE) is None
    assert step_times.ratios(steps, 'pkd', BASELINE) is None
    assert step_times.ratios({}, BASELINE, BASELINE) is None
