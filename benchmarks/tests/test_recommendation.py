"""The README's recommendation: the highest arm is named with its compute
and its standing against every other arm, said only as far as the seeds
allow, and the arms at the plain student's compute get their own pick when
the highest costs more."""
from benchmarks.convergence_summary import PAIRS
from benchmarks.recommendation import SHORT, pick, recommendation_block
from benchmarks.suites import BASELINE, SUITES

SUITE = SHORT[0]


def _runs(*maps):
    return {s: dict(mAP=m, val_mAP=m) for s, m in enumerate(maps)}


def _steps(ms_by_method):
    """Step times of ``SUITE``: every arm 500 iterations."""
    return {SUITE: {m: dict(median_ms=ms, max_iters=500)
                    for m, ms in ms_by_method.items()}}


def test_the_highest_arm_above_every_other_and_the_same_compute_pick():
    runs = {BASELINE: _runs(0.08, 0.09, 0.07),
            'head-init': _runs(0.30, 0.33, 0.31),
            'cost-matched': _runs(0.43, 0.45, 0.41)}
    steps = _steps({BASELINE: 100.0, 'head-init': 103.0,
                    'cost-matched': 358.0})
    assert pick(runs, steps, SUITE) == [
        "cost-matched student (ERA's compute) (0.430 +- 0.020 over 3 seeds, "
        '3.58x compute), above every other arm',
        "at the plain student's compute (at most 1.1x), head-initialised "
        'student (0.313 +- 0.015 over 3 seeds, 1.03x compute), above every '
        'other arm at that compute']


def test_the_highest_mean_is_checked_against_every_arm_not_the_next_only():
    # head-init is above the plain student, the next by mean, but not above
    # PKD, lower on the mean and spread wide
    runs = {BASELINE: _runs(0.30, 0.30, 0.31),
            'pkd': _runs(0.19, 0.29, 0.41),
            'head-init': _runs(0.35, 0.36, 0.35)}
    steps = _steps({BASELINE: 100.0, 'pkd': 100.0, 'head-init': 100.0})
    (best, ) = pick(runs, steps, SUITE)
    assert best == ('head-initialised student (0.353 +- 0.006 over 3 seeds, '
                    '1.00x compute), above plain student (500 it), not '
                    'above PKD')


def test_one_seed_is_not_ranked_and_untimed_arms_are_named():
    runs = {BASELINE: _runs(0.40, 0.42), 'head-init': _runs(0.45, 0.46),
            'era-fast': _runs(0.50)}
    steps = _steps({BASELINE: 100.0, 'head-init': 100.0})
    assert pick(runs, steps, SUITE) == [
        'ERA at its defaults (era-fast) (0.500 over 1 seed, compute not '
        'timed), not yet ranked against head-initialised student / plain '
        'student (500 it) (it needs two seeds that both arms have)',
        "at the plain student's compute (at most 1.1x; not timed: ERA at its "
        'defaults (era-fast)), head-initialised student (0.455 +- 0.007 over '
        '2 seeds, 1.00x compute), above every other arm at that compute']
    assert pick({}, {}, SUITE) == []


def test_the_block_has_a_bullet_per_regime_with_a_decided_plateau():
    plateau = PAIRS['retinanet'][0]
    assert recommendation_block({}, {}) == [
        f'- **A short schedule ({SHORT[1]})** (`{SUITE}`): no runs recorded '
        'yet.']
    # the RetinaNet plateau decided at 16000 iterations: its suite's bullet,
    # whose arms are named as the README's plateau table names them
    val = {8000: 0.40, 16000: 0.419, 32000: 0.425}
    results = {plateau: {
        method: {0: dict(mAP=0.0, val_mAP=val[its])}
        for method, config in SUITES[plateau].configs().items()
        for its in [int(config.split('_fpn_')[1].split('it_')[0])]
        if its in val}}
    comparison = 'synthetic-retinanet-16000it-192'
    results[comparison] = {BASELINE: _runs(0.40, 0.42),
                           'student-32000it': _runs(0.41, 0.43)}
    lines = recommendation_block(results, _steps({BASELINE: 100.0}))
    assert lines[0].startswith('- **A short schedule (500 iterations from '
                               'scratch, synthetic RetinaNet)**')
    assert lines[1] == (
        "- **The student's plateau (RetinaNet, 16000 iterations at 192 px)** "
        f'(`{comparison}`): highest report mAP: plain student, 2x schedule '
        '(0.420 +- 0.014 over 2 seeds, compute not timed), not above plain '
        'student; at the plain student\'s compute (at most 1.1x; not timed: '
        'plain student, 2x schedule), plain student (0.410 +- 0.014 over 2 '
        'seeds, 1.00x compute).')
