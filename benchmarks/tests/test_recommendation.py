"""The README's recommendation: the highest arm is named with its compute,
ranked against the next best only as far as the seeds allow, and the arms
at the plain student's compute get their own pick when the highest costs
more."""
from benchmarks.convergence_summary import PAIRS
from benchmarks.recommendation import SHORT, pick, recommendation_block
from benchmarks.suites import BASELINE, SUITES

SUITE = SHORT[0]


def _runs(*maps):
    return {s: dict(mAP=m, val_mAP=m) for s, m in enumerate(maps)}


def _steps(**ms_by_method):
    """Step times of ``SUITE``: every arm 500 iterations."""
    return {SUITE: {m: dict(median_ms=ms, max_iters=500)
                    for m, ms in ms_by_method.items()}}


def test_the_highest_arm_above_the_next_and_the_same_compute_pick():
    runs = {BASELINE: _runs(0.08, 0.09, 0.07),
            'head-init': _runs(0.30, 0.33, 0.31),
            'cost-matched': _runs(0.43, 0.45, 0.41)}
    steps = _steps(baseline=100.0, **{'head-init': 103.0,
                                      'cost-matched': 358.0})
    best, same = pick(runs, steps, SUITE)
    assert best.startswith("the plain student trained for ERA's compute "
                           '(0.430 +- 0.020 over 3 seeds, 3.58x compute), '
                           'above the next best, the head-initialised '
                           'student (0.313')
    assert same.startswith("at the plain student's compute, the "
                           'head-initialised student (0.313 +- 0.015 over 3 '
                           'seeds, 1.03x compute), above the next best, the '
                           'plain student (0.080')


def test_level_arms_and_one_seed_are_not_ranked():
    # one seed lower: not above by the rule, though higher on the mean
    runs = {BASELINE: _runs(0.40, 0.42, 0.41), 'pkd': _runs(0.45, 0.41, 0.46)}
    steps = _steps(baseline=100.0, pkd=100.0)
    assert pick(runs, steps, SUITE) == [
        'PKD (0.440 +- 0.026 over 3 seeds, 1.00x compute), not above the '
        'next best by the rule, the plain student (0.410 +- 0.010 over 3 '
        'seeds, 1.00x compute)']
    # one seed: named, not ranked; an untimed arm is said to be untimed
    runs = {BASELINE: _runs(0.40, 0.42), 'era-fast': _runs(0.50)}
    best, same = pick(runs, _steps(baseline=100.0), SUITE)
    assert best.startswith('ERA at its defaults (era-fast) (0.500 over 1 '
                           'seed, compute not timed) so far, not yet ranked')
    assert same == ("at the plain student's compute, the plain student "
                    '(0.410 +- 0.014 over 2 seeds, 1.00x compute)')
    assert pick({}, {}, SUITE) == []


def test_the_block_has_a_bullet_per_regime_with_a_decided_plateau():
    plateau = PAIRS['retinanet'][0]
    assert recommendation_block({}, {}) == [
        f'- **{SHORT[1]}** (`{SUITE}`): no runs recorded yet.']
    # the RetinaNet plateau decided at 16000 iterations: its suite's bullet
    val = {8000: 0.40, 16000: 0.419, 32000: 0.425}
    results = {plateau: {
        method: {0: dict(mAP=0.0, val_mAP=val[its])}
        for method, config in SUITES[plateau].configs().items()
        for its in [int(config.split('_fpn_')[1].split('it_')[0])]
        if its in val}}
    lines = recommendation_block(results, {})
    assert len(lines) == 2
    assert lines[1].startswith(
        "- **The student's plateau (RetinaNet, 16000 iterations at 192 px)** "
        '(`synthetic-retinanet-16000it-192`): no runs recorded yet')
