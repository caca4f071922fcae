"""Statistics over seeds and their table cells (benchmarks.seed_stats)."""

import pytest

from benchmarks.seed_stats import (
    compare,
    fmt_above,
    fmt_diffs,
    fmt_ms,
    fmt_seconds,
    is_above,
    mean_std,
    ok_runs,
    paired_diffs,
    wall_clock_line,
)


def test_mean_std():
    assert mean_std([]) is None
    assert mean_std([0.5]) == dict(mean=0.5, std=0.0, n=1)
    stat = mean_std([0.1, 0.2, 0.3])
    assert stat['mean'] == pytest.approx(0.2)
    assert stat['std'] == pytest.approx(0.1)  # sample std
    assert stat['n'] == 3


def test_ok_runs_and_paired_diffs():
    runs = {0: {'mAP': 0.1}, 1: {'error': 'x'}, 2: {'val_mAP': 0.2}}
    assert ok_runs(runs) == {0: {'mAP': 0.1}}
    assert ok_runs(runs, 'val_mAP') == {2: {'val_mAP': 0.2}}
    base = {0: {'mAP': 0.1}, 1: {'mAP': 0.2}, 2: {'mAP': 0.3}}
    other = {2: {'mAP': 0.25}, 0: {'mAP': 0.15}, 3: {'mAP': 0.9},
             1: {'error': 'failed'}}
    diffs = paired_diffs(base, other, 'mAP')
    assert list(diffs) == [0, 2]  # the seeds with both runs, in order
    assert diffs == pytest.approx({0: 0.05, 2: -0.05})


def test_is_above_rule():
    stat = dict(mean=0.2, std=0.01, n=3)
    base = dict(mean=0.1, std=0.02, n=3)
    # every diff > 0 and the mean diff above both stds
    assert is_above({0: 0.03, 1: 0.04, 2: 0.05}, stat, base) is True
    # one seed lost
    assert is_above({0: 0.08, 1: 0.09, 2: -0.001}, stat, base) is False
    # consistent, but smaller than the baseline's spread over seeds
    assert is_above({0: 0.01, 1: 0.015, 2: 0.012}, stat, base) is False
    # ... or than the method's own
    noisy = dict(mean=0.2, std=0.05, n=3)
    assert is_above({0: 0.03, 1: 0.04, 2: 0.05}, noisy, base) is False
    assert is_above({}, stat, base) is None
    assert is_above({0: 0.1}, None, base) is None


def test_compare_takes_each_methods_spread_over_its_runs():
    base = {0: {'mAP': 0.10}, 1: {'mAP': 0.11}, 2: {'mAP': 0.12}}
    other = {0: {'mAP': 0.15}, 1: {'mAP': 0.17}, 2: {'error': 'failed'}}
    c = compare(base, other, 'mAP')
    assert c['diffs'] == pytest.approx({0: 0.05, 1: 0.06})
    assert c['diff']['mean'] == pytest.approx(0.055)
    assert c['above'] is True  # 0.055 > std 0.014 (other), 0.01 (base)
    assert compare(base, {}, 'mAP') == dict(diffs={}, diff=None, above=None)


def test_cells():
    assert fmt_ms(None) == '-'
    assert fmt_ms(dict(mean=0.1234, std=0.0, n=1)) == '0.123'
    assert fmt_ms(dict(mean=0.015, std=0.0212, n=2),
                  signed=True) == '+0.015 +- 0.021 (n=2)'
    assert fmt_diffs({}) == '-'
    assert fmt_diffs({0: 0.03, 2: -0.004}) == 's0 +0.030, s2 -0.004'
    assert fmt_seconds(None) == '-'
    assert fmt_seconds(dict(mean=90.0, std=0.0, n=1)) == '1.5 min'
    assert [fmt_above(a) for a in (True, False, None)] == ['above', 'no',
                                                           '-']


def test_the_wall_clock_line_sums_the_finished_runs_training_time():
    groups = [{0: dict(mAP=0.4, train_s=3600.0), 1: dict(error='boom')},
              {0: dict(mAP=0.5, train_s=1800.0), 2: dict(mAP=0.5)}]
    assert wall_clock_line(groups).startswith(
        'Wall-clock: 2 runs, 1.5 h of training in all')
    assert wall_clock_line([{0: dict(train_s=360.0)}]).startswith(
        'Wall-clock: 1 run, 0.1 h')
    assert wall_clock_line([{0: dict(error='boom')}]) == ''
