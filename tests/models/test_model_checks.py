"""The option checks every model shares: loss weights (non-negative, not
NaN) and whether a method needs a teacher."""
import pytest
from mmdet.registry import MODELS

from mmera.models import (
    BaseDistiller,
    DecorrelationLoss,
    MBRNet,
    PearsonFeatureLoss,
)
from mmera.models.common.utils import check_weight

NAN = float('nan')


@pytest.mark.parametrize('value', [0, 0.0, 2.5, [], [0.0, 1.0], (1, 0.5)])
def test_check_weight_accepts_non_negative_numbers_and_lists(value):
    check_weight('w', value, 'Owner')


@pytest.mark.parametrize('value, shown', [
    (-1.0, '-1.0'),
    (NAN, 'nan'),
    ([1.0, -0.5], r'\[1.0, -0.5\]'),
    ((1.0, NAN), r'\[1.0, nan\]'),
])
def test_check_weight_names_the_owner_option_and_value(value, shown):
    with pytest.raises(ValueError,
                       match=r'Owner: w must be >= 0 \(non-negative, not '
                       rf'NaN\), got {shown}\.'):
        check_weight('w', value, 'Owner')


@pytest.mark.parametrize('build, message', [
    (lambda: MBRNet(8, 8, num_branches=2, branch_scales=[1.0, NAN]),
     r'MBRNet: branch_scales must be >= 0 .* got \[1.0, nan\]'),
    (lambda: DecorrelationLoss(loss_weight=NAN),
     'DecorrelationLoss: loss_weight must be >= 0'),
    (lambda: PearsonFeatureLoss(loss_weight=-1.0),
     'PearsonFeatureLoss: loss_weight must be >= 0'),
])
def test_building_blocks_use_the_weight_check(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def _distillers():
    return {
        name: cls
        for name, cls in MODELS.module_dict.items()
        if isinstance(cls, type) and issubclass(cls, BaseDistiller)
    }


def test_every_registered_method_declares_whether_it_needs_a_teacher():
    methods = _distillers()
    assert len(methods) >= 8
    for name, cls in methods.items():
        assert cls.needs_teacher in (True, False), name
    assert methods['TrunkBranchDistiller'].needs_teacher is False


@pytest.mark.parametrize('name', [
    'ERADistiller', 'FeatureDistiller', 'FitNetDistiller', 'PKDDistiller',
    'RKDDistiller', 'ResKDDistiller', 'SSKDDistiller'
])
def test_methods_with_a_teacher_refuse_to_build_without_one(name):
    # checked first: the (missing) student config is never read
    with pytest.raises(ValueError,
                       match=rf'^{name} needs a teacher: set `teacher_config`'
                       r' \(and `teacher_ckpt`\)\.$'):
        MODELS.build(dict(type=name, student='no_such_student.py',
                          teacher_config=None))


@pytest.mark.parametrize('teacher', [
    dict(teacher_config='teacher.py'), dict(teacher_ckpt='teacher.pth')
])
def test_teacher_free_methods_refuse_a_teacher(teacher):
    with pytest.raises(ValueError, match=r'TrunkBranchDistiller is '
                       r'teacher-free \(the trunk learns from its own peer '
                       r'branches\): remove `teacher_config` and '
                       r'`teacher_ckpt`'):
        MODELS.build(dict(type='TrunkBranchDistiller',
                          student='no_such_student.py', **teacher))


def test_a_single_stage_detector_without_a_bbox_head_is_no_single_stage():
    """MaskFormer and Mask2Former are SingleStageDetectors with a panoptic
    head: the distillers refuse them (kind 'other') instead of reaching for
    a bbox_head they lack."""
    from mmdet.models.detectors import BaseDetector, SingleStageDetector

    from mmera.models.common.detector_losses import detector_kind

    class PanopticOnly(SingleStageDetector):
        def __init__(self):
            BaseDetector.__init__(self)

    assert detector_kind(PanopticOnly()) == 'other'
