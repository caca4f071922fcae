"""The comparison at a long schedule: each arm against the plain student and
the 2x control by the results tables' rule, the control's word on the
plateau, and the primary ERA arm against the strongest peer."""
from benchmarks.convergence import (
    COMPARISON_SUITES,
    comparison_block,
    plateau_check,
    strongest_peer,
    verdict,
)
from benchmarks.suites import PINNED_SUITES, SUITES

SUITE = 'synthetic-retinanet-8000it-192'
SPEC = COMPARISON_SUITES[SUITE]


def _runs(*maps):
    return {s: dict(mAP=m, val_mAP=m + 0.01) for s, m in enumerate(maps)}


def test_the_comparison_suites_are_pinned_and_have_their_arms():
    for suite, spec in COMPARISON_SUITES.items():
        assert suite in PINNED_SUITES
        methods = SUITES[suite].methods
        assert spec.control in methods and spec.primary in methods
        assert set(spec.peers) <= set(methods)


def test_the_control_says_whether_the_plateau_holds():
    base = _runs(0.40, 0.41, 0.42)
    assert 'holds' in plateau_check(base, _runs(0.405, 0.405, 0.43))
    assert 'not yet the plateau' in plateau_check(base, _runs(0.45, 0.46,
                                                               0.47))
    assert 'overfits' in plateau_check(base, _runs(0.35, 0.36, 0.37))
    assert 'not decided' in plateau_check(base, _runs(0.45))


def test_the_verdict_names_the_strongest_peer():
    results = {'baseline': _runs(0.40, 0.41, 0.42),
               SPEC.control: _runs(0.41, 0.42, 0.43),
               'head-init': _runs(0.44, 0.45, 0.46),
               'pkd': _runs(0.42, 0.43, 0.44),
               SPEC.primary: _runs(0.45, 0.46, 0.47)}
    assert strongest_peer(results, SPEC.peers) == 'head-init'
    text = verdict(results, SPEC)
    assert 'the plain student: above' in text
    assert 'the 2x-schedule student: above' in text
    # +0.01 on every seed, but the mean is not above the peers' std (0.01)
    assert 'the strongest peer (head-init): not above' in text
    assert 'no runs yet' in verdict({'baseline': _runs(0.4)}, SPEC)


def test_the_block_has_a_row_per_arm_and_pairs_by_seed():
    results = {SUITE: {'baseline': _runs(0.40, 0.41),
                       'era-fast': _runs(0.43, 0.45)}}
    text = '\n'.join(comparison_block(results, {SUITE: SPEC}))
    assert f'(`{SUITE}`)' in text
    row = next(x for x in text.splitlines()
               if x.startswith("| ERA's cheap setting"))
    assert row.startswith("| ERA's cheap setting (era-fast) | 2 | "
                          '0.440 +- 0.014 | 0.450 +- 0.014 | '
                          '+0.035 +- 0.007 | s0 +0.030, s1 +0.040 | above |')
    assert len([x for x in text.splitlines() if x.startswith('| ')]) == len(
        SUITES[SUITE].configs()) + 2  # the header and its rule
    assert 'The compute control is not decided yet' in text
