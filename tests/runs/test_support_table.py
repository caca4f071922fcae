"""The support table: refusals are reported with their message, bugs as
FAILS, and the markdown numbers each message once."""
from mmera.runs.support_table import PAIRS, markdown, try_method


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
