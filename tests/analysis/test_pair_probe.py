"""The pair probe: refusals are reported with their message, bugs as
FAILS, and the markdown numbers each message once."""
from cli_helpers import mmpretrain_imports

from mmera.analysis import pair_probe
from mmera.analysis.offline import strip_pretrained
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


def test_pretrained_inits_are_stripped_at_any_depth():
    cfg = dict(backbone=dict(init_cfg=dict(type='Pretrained', checkpoint='x'),
                             pretrained='y'),
               neck=[dict(init_cfg=[dict(type='Pretrained', checkpoint='z'),
                                    dict(type='Xavier')])])
    strip_pretrained(cfg)
    assert cfg['backbone'] == dict(init_cfg=None, pretrained=None)
    assert cfg['neck'][0]['init_cfg'] == [dict(type='Xavier')]


def test_a_crash_keeps_its_traceback(monkeypatch):
    def broken(model, size):
        raise KeyError('lost')
    monkeypatch.setattr(pair_probe, 'train_once', broken)
    # the student alone trains: the failure is the method's
    monkeypatch.setattr(pair_probe, 'student_trains', lambda *a: True)
    teacher, student = PAIRS['RetinaNet R101 -> R50']
    result = pair_probe.probe('head-init', teacher, student)
    assert result['status'] == 'crashes'
    assert result['message'] == "KeyError: 'lost'"
    assert 'in broken' in result['traceback']


def test_head_init_needs_the_teachers_head_and_ld_gfl_heads():
    teacher, student = PAIRS['Faster R-CNN R101 -> RetinaNet R50']
    result = try_method('head-init', teacher, student)
    assert result.startswith("refused: head-init: HeadInitHook loads the "
                             "teacher's bbox_head")
    result = try_method('LD', teacher, student)
    assert result.startswith("refused: LD: mmdet's LD")
    assert 'the student has RetinaHead, the teacher no bbox_head' in result


def test_an_op_without_a_kernel_here_is_unavailable_not_a_refusal():
    """mmcv's CARAFE upsampler has no CPU kernel: where it is missing, the
    probe (on the CPU) says so, through the dry run's wrapped error
    (PKD) and the raw one (the plain student) alike."""
    zoo = 'carafe/faster-rcnn_r50_fpn-carafe_1x_coco.py'
    for method in ('PKD', 'head-init'):
        result = pair_probe.probe(method, zoo, zoo, 96)
        assert result['status'] == 'unavailable', result
        assert result['message'].startswith(
            "mmcv's carafe_forward_impl has no cpu implementation")


def test_era_refuses_a_teacher_head_without_a_forward():
    """Cascade RPN's head runs its stages only inside loss() and predict():
    TWI cannot run it, ERA without TWI and the feature methods can."""
    zoo = 'cascade_rpn/cascade-rpn_faster-rcnn_r50-caffe_fpn_1x_coco.py'
    result = try_method('ERA', zoo, zoo, 96)
    assert result.startswith('refused: TWI runs the teacher\'s head forward')
    assert 'CascadeRPNHead has no forward' in result
    assert 'twi_mode="none"' in result
    assert try_method('PKD', zoo, zoo, 96) == 'trains'


def test_era_refuses_a_two_input_roi_box_head():
    """Double-Head R-CNN's RoI head feeds its box head class and box
    features apart; two-stage TWI feeds one set, so ERA refuses it."""
    zoo = 'double_heads/dh-faster-rcnn_r50_fpn_1x_coco.py'
    result = try_method('ERA', zoo, zoo, 96)
    assert result.startswith('refused: two-stage TWI feeds')
    assert 'DoubleConvFCBBoxHead takes 2 (x_cls, x_reg)' in result


def test_a_failure_the_student_alone_shares_is_not_the_methods(
        monkeypatch):
    """A step that fails for the plain student too (random weights) says
    nothing of the method: unavailable, with the error, not a crash."""
    def broken(model, size):
        raise RuntimeError('roi_width >= 0 failed')
    monkeypatch.setattr(pair_probe, 'train_once', broken)
    teacher, student = PAIRS['RetinaNet R101 -> R50']
    result = pair_probe.probe('PKD', teacher, student, 96)
    assert result['status'] == 'unavailable'
    assert result['message'].startswith('the student alone fails its '
                                         'training step too')
    assert result['message'].endswith('(RuntimeError: roi_width >= 0 '
                                      'failed)')


def test_era_trains_on_a_head_with_tuple_outputs_per_level():
    """SABL's head predicts boxes as (bucket scores, offsets) per level:
    TWI splits those per approximation too."""
    zoo = 'sabl/sabl-retinanet_r50_fpn_1x_coco.py'
    assert try_method('ERA', zoo, zoo, 96) == 'trains'
