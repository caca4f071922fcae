"""``python -m benchmarks.step_cost``: its table and the teacher's share of
the floor, on fake pooled results (nothing timed)."""
import pytest

from benchmarks import step_cost
from benchmarks.step_cost import expected_step_ms


@pytest.fixture(scope='module')
def bench():
    return step_cost


def _res(mode, median, mean=None, p25=None, p75=None, net=50.0):
    return dict(mode=mode, median_ms=median, mean_ms=mean or median,
                p25_ms=p25 or median, p75_ms=p75 or median, peak_mb=100.0,
                net_peak_mb=net, params_m=1.0)


def test_table_ratios_spread_and_means_for_halftwi(bench):
    results = [_res('student', 60.0), _res('floor', 100.0, mean=110.0,
                                           p25=90.0, p75=120.0),
               _res('era_all+halftwi', 150.0, mean=220.0),
               dict(mode='era_last', error='boom')]
    lines = bench.table(results).splitlines()
    assert lines[0].startswith('| mode | median step (ms) | spread p25-p75 '
                               '(ms) | mean (ms) | ratio to floor |')
    assert lines[3] == ('| floor | 100.0 | 90-120 | 110.0 | 1.00 | 1.67 | '
                        '100 | 50 | 1.00 | 1.000 |  |')
    # +halftwi: ratios of the means (220 / 110, 220 / 60); era_all's goal
    assert lines[4] == ('| era_all+halftwi (ratios of means) | 150.0 | '
                        '150-150 | 220.0 | 2.00 | 3.67 | 100 | 50 | 1.00 | '
                        '1.000 | time <= 2.75 met, memory <= 1.60 met |')
    assert lines[5].startswith('| era_last | failed: boom |')
    assert all(line.count('|') == lines[0].count('|') for line in lines)
    assert bench.teacher_share(results) == pytest.approx(0.4)
    assert bench.teacher_share(results[1:]) is None


def test_goals_are_checked_by_base_mode(bench):
    results = [_res('floor', 100.0), _res('era_all', 300.0, net=90.0),
               _res('era_sampled+bf16', 140.0),
               _res('era_cheap+halftwi', 100.0, mean=130.0),
               _res('era_notwi', 120.0)]
    goals = [line.rsplit('|', 2)[-2].strip()
             for line in bench.table(results).splitlines()[2:]]
    assert goals == ['', 'time <= 2.75 MISSED, memory <= 1.60 MISSED',
                     'time <= 1.50 met', 'time <= 1.25 MISSED', '']
    # +halftwi is read by its mean (TWI on a random half of the steps)
    assert bench.uses_mean('era_all+halftwi')
    assert not bench.uses_mean('era_cheap')
    assert not bench.uses_mean('era_sampled+bf16')
    assert bench.goal('era_all', 2.7, None) == (
        'time <= 2.75 met, memory <= 1.60 MISSED')


def test_a_halftwi_mode_is_read_by_its_expected_step(bench):
    """TWI on a random half of the steps: the expected step weighs the steps
    with and without TWI by 1/2 each, whatever share the timed steps
    drew."""
    cheap = dict(_res('era_cheap+halftwi', 100.0, mean=115.0),
                 times_ms=[100.0, 100.0, 100.0, 160.0],
                 twi_steps=[False, False, False, True])
    assert expected_step_ms(cheap) == pytest.approx(130.0)
    assert expected_step_ms(dict(cheap, twi_steps=[True] * 4)) is None
    cheap['expected_ms'] = expected_step_ms(cheap)
    line = bench.table([_res('floor', 100.0), cheap]).splitlines()[3]
    assert line.startswith('| era_cheap+halftwi (ratios of the expected '
                           'step) | '
                           '100.0 | 100-100 | 115.0 | 1.30 |')
    assert line.endswith('| time <= 1.25 MISSED |')
