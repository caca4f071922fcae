"""The pair probe: refusals are reported with their message, bugs as
FAILS, and the markdown numbers each message once."""
from cli_helpers import mmpretrain_imports
from mmera.analysis.pair_probe import PAIRS, markdown, try_method


def test_rkd_on_rtmdet_is_a_refusal_naming_the_neck():
    teacher, student = PAIRS['RTMDet s -> tiny']
    result = try_method('RKD', teacher, student)
    assert result.startswith('refused: RKDDistiller: the student')
    assert 'CSPNeXtPAFPN' in result


def test_feature_method_trains_on_rtmdet():
    teacher, student = PAIRS['RTMDet s -> tiny']
    assert try_method('PKD', teacher, student) == 'trains'


def test_markdown_numbers_each_message_once():
    rows = [dict(pair='A', ERA='trains', RKD='refused: needs FPN'),
            dict(pair='B', ERA='FAILS: KeyError: x', RKD='refused: needs FPN')]
    text = markdown(rows, ['ERA', 'RKD'])
    assert '| A | trains | refused [1] |' in text
    assert '| B | FAILS [2] | refused [1] |' in text
    assert text.count('needs FPN') == 1
    assert '[2] KeyError: x' in text


def test_a_teacher_that_cannot_load_here_is_unavailable_not_a_crash():
    """The ConvNeXt teacher's config imports mmpretrain.models: where that
    fails (no torchvision beside this torch) the cell says so."""
    importable = mmpretrain_imports()
    teacher, student = PAIRS['RTMDet-l ConvNeXt-B -> RTMDet-m']
    result = try_method('FitNet', teacher, student)
    if importable:
        assert result == 'trains'
    else:
        assert result.startswith('unavailable: Cannot load the model config')
        assert 'mmpretrain.models' in result and 'torchvision' in result


def test_a_mask_rcnn_student_gets_masks_and_trains():
    teacher, student = PAIRS['Mask R-CNN R101 -> R50']
    assert try_method('PKD', teacher, student) == 'trains'
