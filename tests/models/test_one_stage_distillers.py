"""ERA and the feature methods on every one-stage family; the others refuse
what their mechanism cannot handle, with a message naming it."""
import copy

import pytest
import torch
from mmdet.registry import MODELS
from tiny_detectors import NUM_CLASSES, make_samples, tiny_detector

FAMILIES = ['retinanet', 'fcos', 'atss', 'gfl', 'rtmdet']


def _pair(family):
    # teacher wider than the student, so ERA's adapter is exercised
    return (tiny_detector(family, width=16, channels=32),
            tiny_detector(family, width=32, channels=64))


def _batch(size=128):
    torch.manual_seed(0)
    return torch.randn(2, 3, size, size), make_samples(2, size)


def _build(method, student, teacher, **kwargs):
    model = MODELS.build(dict(type=method, student=copy.deepcopy(student),
                              teacher_config=copy.deepcopy(teacher),
                              **kwargs))
    model.student.init_weights()
    model.teacher_loaded = True  # random teacher weights suffice here
    if hasattr(model, 'twi'):
        model.mbrnet.init_weights()
        model.twi.load_from(model.teacher.bbox_head)
        torch.manual_seed(1)
        for branch in model.mbrnet.branches:  # off zero: M_0..M_K differ
            for p in branch.parameters():
                p.data.normal_(0, 0.02)
    return model


@pytest.fixture(scope='module', params=FAMILIES)
def era(request):
    student, teacher = _pair(request.param)
    return request.param, _build('ERADistiller', student, teacher)


def test_era_trains_with_the_teacher_heads_own_loss(era):
    family, model = era
    model.train()
    inputs, samples = _batch()
    losses = model.loss(inputs, samples)
    for key in ('era.loss_mimic', 'era.loss_residual', 'era.loss_twi'):
        assert torch.isfinite(losses[key]) and losses[key] > 0, key
    total = sum(v if torch.is_tensor(v) else sum(v)
                for k, v in losses.items() if 'loss' in k)
    model.zero_grad()
    total.backward()
    assert model.mbrnet.branches[-1][0].conv.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.twi.head.parameters())
    assert all(p.grad is None for p in model.teacher.parameters())


def _valid(results, size=128):
    for result in results:
        pred = result.pred_instances
        assert len(pred) > 0
        assert pred.bboxes.shape == (len(pred), 4)
        assert torch.isfinite(pred.bboxes).all()
        assert ((pred.scores >= 0) & (pred.scores <= 1)).all()
        assert (pred.labels < NUM_CLASSES).all()


def test_era_t_and_st_give_valid_detections(era):
    family, model = era
    model.eval()
    inputs, samples = _batch()
    with torch.no_grad():
        for mode in ('T', 'ST'):
            model.set_inference_mode(mode, 0.5)
            _valid(model.predict(inputs, copy.deepcopy(samples)))
        model.set_inference_mode('S')
        s_mode = model.predict(inputs, copy.deepcopy(samples))
        model.set_inference_mode('ST', 0.0)
        blend_0 = model.predict(inputs, copy.deepcopy(samples))
        model.set_inference_mode('S')
    for s, b in zip(s_mode, blend_0):
        for key in ('bboxes', 'scores', 'labels'):
            assert torch.equal(s.pred_instances[key], b.pred_instances[key])


@pytest.mark.parametrize('method', ['FitNetDistiller', 'PKDDistiller'])
@pytest.mark.parametrize('family', ['fcos', 'gfl', 'rtmdet'])
def test_feature_methods_train_on_every_family(method, family):
    model = _build(method, *_pair(family)).train()
    losses = model.loss(*_batch())
    key = [k for k in losses if k.endswith('.loss_feat')][0]
    assert torch.isfinite(losses[key]) and losses[key] > 0


def test_cross_family_teacher_pairs_its_heads_strides():
    """An RTMDet teacher (strides 8-32) for a RetinaNet student (8-128):
    ERA pairs the teacher head's three strides; ST is refused (the heads
    decode differently), T decodes with the teacher head."""
    student = tiny_detector('retinanet')
    teacher = tiny_detector('rtmdet', width=32, channels=48)
    model = _build('ERADistiller', student, teacher)
    assert model.pairing.strides == (8, 16, 32)
    assert model.pairing.student_index == (0, 1, 2)
    assert model.twi.loss_path == 'per_approximation'
    losses = model.train().loss(*_batch())
    assert torch.isfinite(losses['era.loss_twi'])
    with pytest.raises(ValueError, match='RetinaHead.*RTMDetSepBNHead.*'
                       'decode differently'):
        model.set_inference_mode('ST', 0.5)
    model.set_inference_mode('T')
    with torch.no_grad():
        _valid(model.eval().predict(*_batch()))


def test_student_without_the_teacher_heads_strides_is_refused():
    student = tiny_detector('rtmdet')
    teacher = tiny_detector('retinanet', width=32, channels=64)
    with pytest.raises(ValueError, match=r"ERADistiller: the teacher's head "
                       r'reads strides \[8, 16, 32, 64, 128\].*'
                       r'CSPNeXtPAFPN.*lacks \[64, 128\]'):
        _build('ERADistiller', student, teacher)
    # feature methods pair the common strides
    model = _build('PKDDistiller', student, teacher)
    assert model.pairing.strides == (8, 16, 32)


@pytest.mark.parametrize('method', ['RKDDistiller', 'ResKDDistiller'])
def test_fpn_methods_refuse_other_necks(method):
    with pytest.raises(ValueError, match=f'{method}: the student.s neck is '
                       'CSPNeXtPAFPN, but this method works on FPN necks '
                       'only.*FitNet, PKD and ERA'):
        _build(method, *_pair('rtmdet'))


@pytest.mark.parametrize('method', ['RKDDistiller', 'ResKDDistiller'])
def test_fpn_methods_train_on_fcos(method):
    model = _build(method, *_pair('fcos')).train()
    losses = model.loss(*_batch())
    assert all(torch.isfinite(v).all() for k, v in losses.items()
               if '.loss' in k and torch.is_tensor(v))


def test_reskd_adaptive_updates_every_head_output():
    """FCOS has three outputs (centerness too): when every image goes to
    full depth, adaptive inference must equal 'all' exactly, and differ
    from the student alone (the res-students are moved off zero)."""
    model = _build('ResKDDistiller', *_pair('fcos'),
                   skip_rule=dict(type='max_score', thr=1.0)).eval()
    torch.manual_seed(2)
    for p in model.res_students.parameters():
        p.data.normal_(0, 0.05)
    inputs, samples = _batch()
    results = {}
    with torch.no_grad():
        for mode in ('adaptive', 'all', 'none'):
            model.set_inference_mode(mode)
            results[mode] = model.predict(inputs, copy.deepcopy(samples))
            if mode == 'adaptive':
                assert model.last_depths == [model.num_res_students] * 2
    _valid(results['adaptive'])
    for a, b, c in zip(results['adaptive'], results['all'], results['none']):
        for key in ('bboxes', 'scores', 'labels'):
            assert torch.equal(a.pred_instances[key], b.pred_instances[key])
        assert not torch.equal(a.pred_instances.scores,
                               c.pred_instances.scores)


@pytest.mark.parametrize('family', ['fcos', 'rtmdet'])
def test_trunk_branch_names_the_head_it_cannot_handle(family):
    student, _ = _pair(family)
    head = 'FCOSHead' if family == 'fcos' else 'RTMDetSepBNHead'
    with pytest.raises(ValueError, match=f'student head {head} is not '
                       'supported.*RetinaHead'):
        MODELS.build(dict(type='TrunkBranchDistiller', student=student))
