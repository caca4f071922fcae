"""CrossKD on the tiny RetinaNet and GFL pairs (real mmdet models, CPU).

The cross-head predictions are the teacher head's layers i.. on the student
head's tower features; with the teacher's head in the student's place they
are the teacher's own predictions and every KD loss is 0; the KD gradients
reach the student's backbone, neck and head layers before i, never the
teacher; anything but RetinaHead or GFLHead pairs that fit is refused.
"""
import copy
import os.path as osp

import pytest
import torch
from conftest import TINY
from mmdet.registry import MODELS
from mmengine.config import Config
from tiny_detectors import tiny_detector

from mmera.converters import extract_student_state

FAMILIES = ('retinanet', 'gfl')
#: the family's final class and box convs (mmdet's attribute names)
OUTPUT_CONVS = {'retinanet': ('retina_cls', 'retina_reg'),
                'gfl': ('gfl_cls', 'gfl_reg')}
KD_KEYS = {'retinanet': ('crosskd.loss_cls', 'crosskd.loss_bbox'),
           'gfl': ('crosskd.loss_cls', 'crosskd.loss_bbox',
                   'crosskd.loss_ld')}


def _pair(family):
    """The tiny configs' student (R18 x1/4) and teacher (R34 x1/2), both
    with a 64-channel FPN and the same 2-conv head."""
    return tuple(
        Config.fromfile(osp.join(TINY, f'{family}_{net}_fpn_500it_'
                                 'synthetic.py')).model
        for net in ('r18w16', 'r34w32'))


def _build(student, teacher, **kwargs):
    torch.manual_seed(0)
    model = MODELS.build(dict(type='CrossKDDistiller',
                              student=copy.deepcopy(student),
                              teacher_config=copy.deepcopy(teacher),
                              **kwargs))
    model.student.init_weights()
    model.teacher.init_weights()  # mmdet's init: realistic score priors
    model.teacher_loaded = True
    return model


@pytest.fixture(scope='module', params=FAMILIES)
def crosskd(request):
    return request.param, _build(*_pair(request.param))


def _by_hand(family, head, held, index):
    """The teacher head's layers ``index..`` written out per family."""
    cls_name, reg_name = OUTPUT_CONVS[family]
    cls_scores, bbox_preds = [], []
    for level, (cls_feat, reg_feat) in enumerate(held):
        for k in range(index, head.stacked_convs):
            cls_feat = head.cls_convs[k](cls_feat)
            reg_feat = head.reg_convs[k](reg_feat)
        box = getattr(head, reg_name)(reg_feat)
        if family == 'gfl':
            box = head.scales[level](box)
        cls_scores.append(getattr(head, cls_name)(cls_feat))
        bbox_preds.append(box)
    return cls_scores, bbox_preds


def _equal(outs_a, outs_b, atol=0.0):
    for levels_a, levels_b in zip(outs_a, outs_b):
        assert len(levels_a) == len(levels_b)
        for a, b in zip(levels_a, levels_b):
            assert a.shape == b.shape
            assert torch.allclose(a, b, rtol=0, atol=atol)


def test_cross_head_is_the_teachers_layers_on_student_features(
        crosskd, batch):
    family, model = crosskd
    assert model.cross_index == 1  # stacked_convs - 1 (paper: 3 of 4)
    inputs, _ = batch
    with torch.no_grad():
        feats = list(model.student.extract_feat(inputs))
        held, student_outs = model.split_student_head(feats)
        cross = model.cross_head(held)
        # the split student head is its own forward (its loss is mmdet's)
        _equal(student_outs, model.student.bbox_head(feats))
        # after one tower conv the features are the student's, not FPN's
        assert not torch.equal(held[0][0], feats[0])
        _equal(cross, _by_hand(family, model.teacher.bbox_head, held, 1))
        # against mmdet's own forward: the teacher's towers cut at i and
        # resumed by the cross-head give the teacher's predictions
        t_feats = list(model.teacher.extract_feat(inputs))
        t_held = _teacher_split(model, t_feats)
        _equal(model.cross_head(t_held), model.teacher.bbox_head(t_feats))


def _teacher_split(model, feats):
    # the teacher's own towers up to layer i (a plain loop, no mmera code)
    head, held = model.teacher.bbox_head, []
    for x in feats:
        cls_feat = reg_feat = x
        for k in range(model.cross_index):
            cls_feat = head.cls_convs[k](cls_feat)
            reg_feat = head.reg_convs[k](reg_feat)
        held.append((cls_feat, reg_feat))
    return held


def test_teacher_head_in_students_place_gives_the_teachers_predictions(
        crosskd, make_batch):
    """The student's head loaded with the teacher's weights (same widths)
    and fed the teacher's features: cross-head = teacher predictions, every
    KD loss 0 (its minimum); moving a student layer before i raises them."""
    family, model = crosskd
    inputs, samples = make_batch(seed=1)
    head = copy.deepcopy(model.student.bbox_head)
    model.student.bbox_head.load_state_dict(
        model.teacher.bbox_head.state_dict())
    try:
        with torch.no_grad():
            t_feats = list(model.teacher.extract_feat(inputs))
            teacher_outs = model.teacher.bbox_head(t_feats)
            held, _ = model.split_student_head(t_feats)
            cross = model.cross_head(held)
            _equal(cross, teacher_outs, atol=1e-6)
            kd = model.kd_losses(cross, teacher_outs, samples)
            assert set(kd) == {k.split('.')[1] for k in KD_KEYS[family]}
            for name, value in kd.items():
                assert abs(float(value)) < 1e-5, (name, value)
            model.student.bbox_head.cls_convs[0].conv.weight.add_(0.05)
            model.student.bbox_head.reg_convs[0].conv.weight.add_(0.05)
            held, _ = model.split_student_head(t_feats)
            moved = model.kd_losses(model.cross_head(held), teacher_outs,
                                    samples)
        for name, value in moved.items():
            assert value > 1e-4, (name, value)
    finally:
        model.student.bbox_head = head


def test_losses_gradients_and_a_step(crosskd, batch):
    family, model = crosskd
    model.train()
    inputs, samples = batch
    losses = model.loss(inputs, samples)
    own = ('loss_cls', 'loss_bbox') + (('loss_dfl', ) if family == 'gfl'
                                       else ())
    assert set(own + KD_KEYS[family]) == set(losses)
    for key in KD_KEYS[family]:
        assert torch.isfinite(losses[key]) and losses[key] > 0, key
    # the KD losses alone: through the frozen teacher layers into the
    # student's layers before i, its neck and backbone; nowhere else
    model.zero_grad()
    sum(losses[k] for k in KD_KEYS[family]).backward()
    head = model.student.bbox_head
    reached = [model.student.backbone.conv1.weight,
               model.student.neck.fpn_convs[0].conv.weight,
               head.cls_convs[0].conv.weight, head.reg_convs[0].conv.weight]
    for param in reached:
        assert param.grad is not None and param.grad.abs().sum() > 0
    cls_name, reg_name = OUTPUT_CONVS[family]
    for module in (head.cls_convs[1], head.reg_convs[1],
                   getattr(head, cls_name), getattr(head, reg_name)):
        assert all(p.grad is None for p in module.parameters())
    assert all(not p.requires_grad and p.grad is None
               for p in model.teacher.parameters())

    # one SGD step on everything: the student moves, the teacher does not
    teacher_before = copy.deepcopy(model.teacher.state_dict())
    student_before = head.cls_convs[0].conv.weight.detach().clone()
    optim = torch.optim.SGD(model.parameters(), lr=0.01)
    model.zero_grad()
    losses = model.loss(inputs, samples)
    sum(v if torch.is_tensor(v) else sum(v)
        for k, v in losses.items() if 'loss' in k).backward()
    optim.step()
    assert not torch.equal(student_before, head.cls_convs[0].conv.weight)
    for key, value in model.teacher.state_dict().items():
        assert torch.equal(value, teacher_before[key]), key
    # S-mode only: the checkpoint is the student's, predict is its own,
    # and the exported student loads strictly into stock mmdet
    assert all(k.startswith('student.') for k in model.state_dict())
    stock = MODELS.build(copy.deepcopy(_pair(family)[0])).eval()
    stock.load_state_dict(extract_student_state(model.state_dict()))
    model.eval()
    with torch.no_grad():
        ours = model.predict(inputs, copy.deepcopy(samples))
        plain = stock.predict(inputs, copy.deepcopy(samples))
    for a, b in zip(ours, plain):
        assert torch.equal(a.pred_instances.scores, b.pred_instances.scores)


@pytest.mark.parametrize('family, match', [
    ('fcos', 'the student.s head is FCOSHead.*RetinaHead -> RetinaHead '
     'or GFLHead -> GFLHead'),
    ('faster_rcnn', r'the student \(FasterRCNN\) has no dense head'),
], ids=['fcos', 'faster_rcnn'])
def test_unsupported_students_are_refused(family, match):
    student = tiny_detector(family)
    teacher = tiny_detector(family, width=32)
    with pytest.raises(ValueError, match=f'CrossKDDistiller: {match}'):
        _build(student, teacher)


def test_a_teacher_is_required():
    with pytest.raises(ValueError, match='^CrossKDDistiller needs a teacher'):
        MODELS.build(dict(type='CrossKDDistiller', student='none.py'))


def test_pairs_that_cannot_be_cross_fed_are_refused():
    retina_s, retina_t = _pair('retinanet')
    gfl_s, gfl_t = _pair('gfl')
    with pytest.raises(ValueError, match="student's head is RetinaHead, the "
                       "teacher's GFLHead.*one class"):
        _build(retina_s, gfl_t)
    # 32- vs 64-channel heads: no layer of one reads the other's features
    narrow = tiny_detector('retinanet', width=16, channels=32)
    wide = tiny_detector('retinanet', width=32, channels=64)
    with pytest.raises(ValueError, match='in_channels is 32 .* but 64'):
        _build(narrow, wide)  # one-conv heads: i = 0, the FPN features
    with pytest.raises(ValueError, match='feat_channels is 32 .* but 64'):
        _build(narrow, wide, cross_index=1)
    bigger = copy.deepcopy(retina_t)
    bigger.bbox_head.anchor_generator.octave_base_scale = 4
    with pytest.raises(ValueError, match='different priors'):
        _build(retina_s, bigger)
    with pytest.raises(ValueError, match=r'cross_index must be an int in '
                       r'0\.\.2.*got 3'):
        _build(gfl_s, gfl_t, cross_index=3)
    with pytest.raises(ValueError, match='ld_temperature must be > 0'):
        _build(gfl_s, gfl_t, ld_temperature=0)
