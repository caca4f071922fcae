"""The plateau: the shortest length whose double adds less than 0.01 val
mAP, on the seeds both lengths have; the block shows each length's gain
and its gap to the teacher."""
from benchmarks.plateau import plateau_block, plateau_of


def _runs(*vals):
    return {s: dict(val_mAP=v, mAP=v) for s, v in enumerate(vals)}


def test_the_plateau_is_the_first_length_its_double_no_longer_beats():
    rows = [(2000, _runs(0.40, 0.42)), (4000, _runs(0.50, 0.52)),
            (8000, _runs(0.505, 0.53)), (16000, _runs(0.51, 0.531))]
    assert plateau_of(rows) == 4000  # 4000 -> 8000 adds 0.0075 on average
    assert plateau_of(rows[:2]) is None
    # only the seeds both lengths have count: seed 1 of 8000 is missing
    rows[2] = (8000, {0: dict(val_mAP=0.52)})
    # 4000 -> 8000 now adds 0.02 (seed 0), 8000 -> 16000 -0.01
    assert plateau_of(rows) == 8000


def test_the_block_per_suite():
    results = {'synthetic-retinanet-plateau': {
        'baseline': _runs(0.40), 'student-4000it': _runs(0.55),
        'student-8000it': _runs(0.60), 'student-16000it': _runs(0.605)},
        'synthetic-gfl-plateau': {'baseline': _runs(0.6)}}
    teachers = {'synthetic-retinanet-plateau': ('t.py', {'mAP': 0.574}),
                'synthetic-retinanet-plateau-192': ('t192.py', {}),
                'synthetic-gfl-plateau': ('g.py', {'mAP': 0.7}),
                'synthetic-gfl-plateau-192': ('g192.py', {})}
    text = '\n'.join(plateau_block(results, teachers))
    assert '| 8000 | 1 | 0.600 | 0.600 | +0.050 | +0.026 |' in text
    assert '| 16000 | 1 | 0.605 | 0.605 | +0.005 | +0.031 |' in text
    assert 'val mAP): 8000 iterations.' in text
    assert 'val mAP): not decided yet' in text  # GFL: no double recorded
    # at 192 px its own teacher, with no shipped copy: no mAP to compare with
    small = text[text.index('192 px'):text.index('GFL')]
    assert 'teacher `t192.py`, val mAP - (no shipped copy)' in small
    assert '0.574' not in small
