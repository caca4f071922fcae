"""ERA's inference-mode checks, on the facts a distiller learnt of its pair
(the same checks through real pairs: test_era_distiller.py,
test_detector_losses.py, test_one_stage_distillers.py)."""
import pytest

from mmera.models.era.era_inference import (
    INFERENCE_MODES,
    check_inference_mode,
)

FITS = dict(has_twi=True, heads_match=True, cascades=(),
            student_head='RetinaHead', twi_head='RetinaHead')


@pytest.mark.parametrize('mode', INFERENCE_MODES)
def test_every_mode_runs_on_a_fitting_pair(mode):
    for alpha in (0.0, 0.5, 1.0):
        check_inference_mode(mode, alpha, **FITS)


@pytest.mark.parametrize('mode, alpha, facts, match', [
    ('TS', 0.5, {}, "unknown inference mode 'TS'"),
    ('T', 0.5, dict(has_twi=False), "mode 'T' runs the teacher's heads"),
    ('ST', 0.5, dict(has_twi=False), "mode 'ST' runs the teacher's heads"),
    ('ST', 0.5, dict(cascades=['the student (CascadeRCNN)']),
     r'\(the student \(CascadeRCNN\) has a cascade RoI head\)'),
    ('ST', 0.5, dict(cascades=['the student (A)', 'the teacher (B)']),
     r'\(the student \(A\) and the teacher \(B\) have a cascade'),
    ('ST', 0.5, dict(heads_match=False, student_head='FCOSHead',
                     twi_head='GFLHead'),
     r"student's head \(FCOSHead\) and the TWI head \(GFLHead\)"),
    ('ST', 1.5, {}, r'alpha must be in \[0, 1\], got 1.5'),
    ('S', -0.1, {}, r'alpha must be in \[0, 1\], got -0.1'),
])
def test_modes_a_pair_cannot_run_are_refused_with_the_fix(mode, alpha, facts,
                                                          match):
    with pytest.raises(ValueError, match=match):
        check_inference_mode(mode, alpha, **dict(FITS, **facts))


def test_student_alone_needs_no_twi():
    check_inference_mode('S', 0.5, **dict(FITS, has_twi=False,
                                          heads_match=False,
                                          cascades=['the teacher (X)']))
