"""The README's summary of the comparison at the plateau: the plateau read
from the plateau suite's records picks the comparison suite, each arm's
report mAP says whether era-fast is above it, and a pair without a decided
plateau says so."""
from benchmarks.convergence_summary import PAIRS, plateau_suite, summary_block
from benchmarks.suites import SUITES


def _runs(*maps):
    return {s: dict(mAP=m, val_mAP=m + 0.01) for s, m in enumerate(maps)}


def _plateau(suite, **val_by_len):
    """The plateau suite's records: ``val_by_len`` is ``iterations ->
    seed-0 val mAP``."""
    out = {}
    for method, config in SUITES[suite].configs().items():
        its = int(config.split('_fpn_')[1].split('it_')[0])
        if f'n{its}' in val_by_len:
            out[method] = {0: dict(mAP=0.0, val_mAP=val_by_len[f'n{its}'])}
    return out


def test_the_plateau_picks_the_comparison_suite():
    plateau = PAIRS['retinanet'][0]
    results = {plateau: _plateau(plateau, n8000=0.40, n16000=0.419,
                                 n32000=0.425)}
    assert plateau_suite('retinanet', results) == (
        16000, 'synthetic-retinanet-16000it-192')
    # 16000 -> 32000 still adds 0.02: no plateau, no suite
    results = {plateau: _plateau(plateau, n8000=0.40, n16000=0.419,
                                 n32000=0.44)}
    assert plateau_suite('retinanet', results) == (None, None)
    # a plateau with no comparison suite on it
    results = {plateau: _plateau(plateau, n2000=0.40, n4000=0.405)}
    assert plateau_suite('retinanet', results) == (2000, None)


def test_each_arm_against_era_fast_and_the_notes():
    plateau = PAIRS['retinanet'][0]
    suite = 'synthetic-retinanet-16000it-192'
    results = {
        plateau: _plateau(plateau, n8000=0.40, n16000=0.419, n32000=0.425),
        suite: {'baseline': _runs(0.40, 0.41, 0.42),
                'student-32000it': _runs(0.405, 0.405, 0.43),
                'head-init': _runs(0.46, 0.47, 0.48),
                'pkd': {},
                'era-fast': _runs(0.44, 0.45, 0.46)}}
    steps = {suite: {'baseline': dict(median_ms=100.0, max_iters=16000),
                     'era-fast': dict(median_ms=140.0, max_iters=16000),
                     # timed but not run: no row
                     'pkd': dict(median_ms=160.0, max_iters=16000)}}
    lines = summary_block(results, steps)
    assert lines[0] == '| arm | RetinaNet, 16000 it | compute x plain |'
    table = '\n'.join(lines)
    assert ('| plain student | 0.410 +- 0.010 (era-fast above) | 1.00x |'
            in table)
    assert ('| head-initialised student | 0.470 +- 0.010 '
            '(era-fast not above) | - |') in table
    assert ("| ERA's cheap setting (era-fast) | **0.450 +- 0.010** | 1.40x |"
            in table)
    assert not any(x.startswith('| PKD') for x in lines)  # no runs: no row
    assert 'the plateau holds' in table
    assert 'the strongest peer (head-init): not above (' in table
    assert ('- GFL: plateau (`synthetic-gfl-plateau-192`) not decided yet '
            '(no length has its double recorded).') in lines
    # every length has its double, none adds < 0.01: not reached
    gfl = PAIRS['gfl'][0]
    results[gfl] = _plateau(gfl, n8000=0.40, n16000=0.42, n32000=0.44)
    assert ('- GFL: plateau (`synthetic-gfl-plateau-192`) not reached by '
            '16000 iterations.') in summary_block(results)
    # GFL's plateau picks GFL's suite
    results[gfl] = _plateau(gfl, n8000=0.40, n16000=0.405)
    assert plateau_suite('gfl', results) == (8000,
                                             'synthetic-gfl-8000it-192')
    assert summary_block(results)[0] == (
        '| arm | RetinaNet, 16000 it | compute x plain | GFL, 8000 it | '
        'compute x plain |')


def test_no_pair_decided_gives_notes_only():
    lines = summary_block({})
    assert all(x.startswith('- ') for x in lines) and len(lines) == len(
        PAIRS)
