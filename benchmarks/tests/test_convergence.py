"""The comparison at a long schedule: each arm against the plain student and
the 2x control by the results tables' rule, the control's word on the
plateau, and the primary ERA arm against the strongest peer."""
import json

from benchmarks.convergence import (
    COMPARISON_SUITES,
    comparison_block,
    plateau_check,
    strongest_peer,
    verdict,
)
from benchmarks.convergence_ablation import (
    ABLATION_SUITES,
    convergence_block,
    final_residuals,
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
    assert 'the plain student: above (3 seeds)' in text
    assert 'the 2x-schedule student: above (3 seeds)' in text
    # +0.01 on every seed, but the mean is not above the peers' std (0.01)
    assert 'the strongest peer (head-init): not above (3 seeds)' in text
    assert 'no runs yet' in verdict({'baseline': _runs(0.4)}, SPEC)
    one_seed = verdict({'baseline': _runs(0.40, 0.41), SPEC.control:
                        _runs(0.41), SPEC.primary: _runs(0.45)}, SPEC)
    assert ('the plain student: not decided yet (1 paired seed, it needs '
            'two)') in one_seed
    # the other ERA setting is read against the same rivals
    results['era-fast-headinit'] = _runs(0.47, 0.48, 0.49)
    text = verdict(results, SPEC)
    assert text.index("ERA's cheap setting") < text.index(
        'era-fast + teacher head against the plain student: above (3 seeds); '
        'the 2x-schedule student: above (3 seeds); the strongest peer '
        '(head-init): above (3 seeds).')


def test_the_block_has_a_row_per_arm_and_pairs_by_seed():
    results = {SUITE: {'baseline': _runs(0.40, 0.41),
                       'era-fast': _runs(0.43, 0.45)}}
    text = '\n'.join(comparison_block(results, {SUITE: SPEC}))
    assert f'(`{SUITE}`)' in text
    row = next(x for x in text.splitlines()
               if x.startswith("| ERA's cheap setting"))
    assert row.startswith("| ERA's cheap setting (era-fast) | 2 | "
                          '0.440 +- 0.014 | 0.450 +- 0.014 | - | '
                          '+0.035 +- 0.007 | s0 +0.030, s1 +0.040 | above |')
    assert len([x for x in text.splitlines() if x.startswith('| ')]) == len(
        SUITES[SUITE].configs()) + 2  # the header and its rule
    assert 'The compute control is not decided yet' in text
    assert 'Wall-clock' not in text  # the runs record no training time
    results[SUITE]['baseline'][0]['train_s'] = 7200.0
    assert 'Wall-clock: 1 run, 2.0 h of training in all' in '\n'.join(
        comparison_block(results, {SUITE: SPEC}))


def test_each_arm_shows_its_training_compute_where_timed():
    """Step x iterations as a ratio to the plain student's: the control
    trains twice as long at the same step."""
    steps = {SUITE: {'baseline': dict(median_ms=100.0, max_iters=8000),
                     SPEC.control: dict(median_ms=101.0, max_iters=16000),
                     'era-fast': dict(median_ms=150.0, max_iters=8000)}}
    results = {SUITE: {'baseline': _runs(0.40), 'era-fast': _runs(0.43)}}
    rows = {x.split(' | ')[0]: x.split(' | ')[4] for x in comparison_block(
        results, {SUITE: SPEC}, steps=steps) if x.startswith('| ')}
    assert rows['| plain student'] == '1.00x'
    assert rows['| plain student, 2x schedule (compute control)'] == '2.02x'
    assert rows["| ERA's cheap setting (era-fast)"] == '1.50x'
    assert rows['| PKD'] == '-'  # not timed


def _residual_rows(*per_k, levels=2, step=100):
    """A run's curve rows whose last step has norm ``per_k[k]`` at every
    level (an earlier step logs other values)."""
    def row(values, at):
        return {'step': at, **{f'era.residual_k{k}_p{lv}': v
                               for k, v in enumerate(values)
                               for lv in range(levels)}}
    return [row([1.0] * len(per_k), step // 2), {'step': step,
            'coco/bbox_mAP': 0.3}, row(per_k, step)]


def test_final_residuals_average_levels_then_runs():
    runs = [_residual_rows(0.6, 0.5, 0.4), _residual_rows(0.4, 0.3, 0.2)]
    assert [round(v, 6) for v in final_residuals(runs)] == [0.5, 0.4, 0.3]
    # levels that end apart are averaged
    rows = _residual_rows(0.6, 0.4)
    rows[-1]['era.residual_k0_p1'] = 0.8
    assert [round(v, 6) for v in final_residuals([rows])] == [0.7, 0.4]
    # no norms logged (a plain student), or runs with different K: nothing
    assert final_residuals([[{'step': 1, 'coco/bbox_mAP': 0.2}]]) is None
    assert final_residuals([_residual_rows(0.5), _residual_rows(0.5,
                                                                0.4)]) is None


def test_the_ablation_table_and_the_residual_norms_come_from_the_records(
        tmp_path):
    suite, spec = next(iter(ABLATION_SUITES.items()))
    configs = SUITES[suite].methods
    assert suite in PINNED_SUITES and spec.reference in configs
    assert set(spec.arms) <= set(configs)
    variant = next(iter(spec.arms))
    for seed, (ref_rows, var_rows) in enumerate((
            (_residual_rows(0.5, 0.45), _residual_rows(0.5, 0.5)),
            (_residual_rows(0.7, 0.55), _residual_rows(0.5, 0.5)))):
        for method, rows in ((spec.reference, ref_rows), (variant, var_rows)):
            name = configs[method].split('/')[-1][:-3]
            (tmp_path / f'{name}_seed{seed}.json').write_text(json.dumps(
                dict(key=dict(config=configs[method], seed=seed),
                     run=dict(mAP=0.4), curves=dict(rows=rows))))
    # a failed seed's curves are not averaged with the finished ones
    name = configs[variant].split('/')[-1][:-3]
    (tmp_path / f'{name}_seed2.json').write_text(json.dumps(dict(
        key=dict(config=configs[variant], seed=2), run=dict(error='died'),
        curves=dict(rows=_residual_rows(0.9, 0.1)))))
    results = {suite: {spec.reference: _runs(0.42, 0.44),
                       variant: _runs(0.40, 0.41)}}
    text = '\n'.join(convergence_block(results, records_dir=str(tmp_path)))
    assert f'**Ablation: {spec.title}** (`{suite}`)' in text
    row = next(x for x in text.splitlines() if x.startswith(
        '| era-fast with K = 0 |'))
    assert '| 2 | 0.405 +- 0.007 |' in row
    assert row.endswith('| s0 -0.020, s1 -0.030 | no |')
    # K = 4 shrinks the residual with its branches; K = 0 stays at P(S)
    assert ("ERA's cheap setting (era-fast) 0.600 / 0.500; "
            'era-fast with K = 0 0.500 / 0.500.') in text
