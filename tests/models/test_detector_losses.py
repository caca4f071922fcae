"""A detector's own losses from features already extracted; feature methods
on two-stage students and teachers."""
import copy

import pytest
import torch

from mmdet.registry import MODELS
from mmera.models.detector_losses import detector_kind, detector_losses
from tiny_detectors import make_samples, tiny_detector


def _batch(size=128):
    torch.manual_seed(0)
    return torch.randn(2, 3, size, size), make_samples(2, size)


def _same(a, b):
    if isinstance(a, (list, tuple)):
        return all(_same(x, y) for x, y in zip(a, b))
    return torch.equal(a, b)


@pytest.mark.parametrize('family', ['faster_rcnn', 'gfl'])
def test_losses_from_features_equal_the_detectors_own(family):
    det = MODELS.build(tiny_detector(family))
    det.init_weights()
    det.train()
    inputs, samples = _batch()
    torch.manual_seed(1)  # the RoI head samples at random
    own = det.loss(inputs, copy.deepcopy(samples))
    torch.manual_seed(1)
    ours = detector_losses(det, det.extract_feat(inputs),
                           copy.deepcopy(samples))
    assert own.keys() == ours.keys()
    assert all(_same(own[k], ours[k]) for k in own)
    assert detector_kind(det) == ('two_stage' if family == 'faster_rcnn'
                                  else 'single_stage')


def test_other_detectors_are_named():
    with pytest.raises(ValueError, match='Linear is neither a single-stage'):
        detector_losses(torch.nn.Linear(1, 1), [], [])


def _build(method, student, teacher, **kwargs):
    model = MODELS.build(dict(type=method, student=copy.deepcopy(student),
                              teacher_config=copy.deepcopy(teacher),
                              **kwargs))
    model.student.init_weights()
    model.teacher_loaded = True  # random teacher weights suffice here
    return model.train()


@pytest.mark.parametrize('method', ['FitNetDistiller', 'PKDDistiller',
                                    'RKDDistiller'])
def test_feature_methods_train_a_two_stage_student(method):
    student = tiny_detector('faster_rcnn')
    teacher = tiny_detector('faster_rcnn', width=32, channels=64)
    model = _build(method, student, teacher)
    assert model.pairing.strides == (4, 8, 16, 32, 64)
    losses = model.loss(*_batch())
    for key in ('loss_rpn_cls', 'loss_cls', 'loss_bbox'):
        assert key in losses  # the student's whole own loss
    loss, _ = model.parse_losses(losses)
    loss.backward()
    assert torch.isfinite(loss)
    assert any(k.startswith(('fitnet.', 'pkd.', 'rkd.')) for k in losses)


def test_two_stage_teacher_for_a_one_stage_student():
    """A Faster R-CNN teacher (strides 4-64) of a RetinaNet student (8-128):
    FitNet pairs the four common strides; ERA distils with MBRNet and the
    mimic loss, and refuses TWI (the teacher has no dense head)."""
    student = tiny_detector('retinanet')
    teacher = tiny_detector('faster_rcnn', width=32, channels=64)
    fitnet = _build('FitNetDistiller', student, teacher)
    assert fitnet.pairing.strides == (8, 16, 32, 64)
    assert torch.isfinite(fitnet.loss(*_batch())['fitnet.loss_feat'])
    with pytest.raises(ValueError, match=r'TWI runs the teacher.s dense head'
                       r'.*\(FasterRCNN\) has no dense head.*twi_mode="none"'):
        _build('ERADistiller', student, teacher)
    era = _build('ERADistiller', student, teacher, twi_mode='none')
    assert era.twi is None
    losses = era.loss(*_batch())
    assert 'era.loss_mimic' in losses and 'era.loss_twi' not in losses
    with pytest.raises(ValueError, match='inference mode .T. runs the '
                       "teacher's dense head"):
        era.set_inference_mode('T')


def test_era_two_stage_student_of_a_one_stage_teacher():
    """TWI runs the RetinaNet teacher's head on the Faster R-CNN student's
    approximations; T-mode decodes with it, ST is refused."""
    student = tiny_detector('faster_rcnn')
    teacher = tiny_detector('retinanet', width=32, channels=64)
    teacher.neck.update(start_level=0, num_outs=5)  # strides 4-64 ...
    teacher.bbox_head.anchor_generator.strides = [4, 8, 16, 32, 64]
    model = _build('ERADistiller', student, teacher)
    model.twi.load_from(model.teacher.bbox_head)
    assert model.pairing.strides == (4, 8, 16, 32, 64)
    losses = model.loss(*_batch())
    assert torch.isfinite(losses['era.loss_twi'])
    assert 'loss_rpn_cls' in losses
    with pytest.raises(ValueError, match='"ST" blends'):
        model.set_inference_mode('ST', 0.5)
    model.set_inference_mode('T')
    with torch.no_grad():
        results = model.eval().predict(*_batch())
    assert len(results[0].pred_instances) > 0


@pytest.mark.parametrize('method', ['ResKDDistiller', 'TrunkBranchDistiller'])
def test_dense_head_methods_refuse_a_two_stage_student(method):
    cfg = dict(type=method, student=tiny_detector('faster_rcnn'))
    if method == 'ResKDDistiller':
        cfg['teacher_config'] = tiny_detector('faster_rcnn')
    with pytest.raises(ValueError, match=r'student \(FasterRCNN\) has no '
                       'dense bbox_head.*FitNet, PKD or ERA'):
        MODELS.build(cfg)
