"""Measurements in child processes: rotated sweeps, pooled results."""
import sys

from benchmarks.children import add_medians, pool, rotations, sweep

MARK = 'TEST_RESULT '


def test_rotations():
    assert list(rotations(['a', 'b', 'c'], 4)) == [
        ['a', 'b', 'c'], ['b', 'c', 'a'], ['c', 'a', 'b'], ['a', 'b', 'c']]


def test_pool_concatenates_times_and_a_failure_wins():
    pooled = {}
    pool(pooled, 'a', dict(times_ms=[1.0, 5.0], peak_mb=10), ['peak_mb'])
    pool(pooled, 'a', dict(times_ms=[3.0], peak_mb=7), ['peak_mb'])
    pool(pooled, 'b', dict(times_ms=[2.0]))
    pool(pooled, 'b', dict(error='boom'))
    pool(pooled, 'b', dict(times_ms=[4.0]))
    assert add_medians(pooled) == dict(
        a=dict(times_ms=[1.0, 5.0, 3.0], peak_mb=10, median_ms=3.0,
               mean_ms=3.0, p25_ms=2.0, p75_ms=4.0),
        b=dict(error='boom'))
    # other per-step records are concatenated alongside the times
    steps = {}
    for twi in ([True], [False, True]):
        pool(steps, 'c', dict(times_ms=[1.0] * len(twi), twi_steps=twi),
             concat_keys=('times_ms', 'twi_steps'))
    assert steps['c']['twi_steps'] == [True, False, True]
    assert steps['c']['times_ms'] == [1.0, 1.0, 1.0]


def test_sweep_runs_each_name_in_a_child(capsys):
    script = ('import sys, json; name = sys.argv[1]\n'
              'if name == "bad": raise SystemExit("bad child")\n'
              f'print({MARK!r} + json.dumps(dict(times_ms=[len(name)])))')

    def command(name):
        return [sys.executable, '-c', script, name]

    res = sweep(['ab', 'abcd', 'bad'], 2, command, MARK)
    assert res['ab'] == dict(times_ms=[2, 2], median_ms=2, mean_ms=2,
                             p25_ms=2, p75_ms=2)
    assert res['abcd'] == dict(times_ms=[4, 4], median_ms=4, mean_ms=4,
                               p25_ms=4, p75_ms=4)
    assert res['bad'] == dict(error='bad child')
    err = capsys.readouterr().err
    assert 'done: abcd (round 2)' in err and 'bad failed' in err
