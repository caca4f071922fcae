"""ResKDDistiller on the real tiny RetinaNet pair: residual arithmetic, the
join schedule, gradients, the frozen teacher, sample-adaptive inference and
error messages."""
import copy
import re

import pytest
import torch
import torch.nn.functional as F
from mmdet.registry import MODELS
from mmengine.logging import MessageHub
from mmengine.optim import build_optim_wrapper

from mmera.models import FeatureAdapter, ResKDDistiller
from mmera.models.reskd.res_student import (
    ResStudent,
    combined_features,
    residual_targets,
)

RES_STUDENT = dict(
    backbone=dict(type='ResNet', depth=18, base_channels=8,
                  out_indices=(0, 1, 2, 3), frozen_stages=-1,
                  norm_eval=False, init_cfg=None),
    neck=dict(type='FPN', out_channels=32))


def _build(student_cfg, teacher_cfg, teacher_ckpt=None, init=True, **kwargs):
    kwargs.setdefault('res_student', RES_STUDENT)
    kwargs.setdefault('res_student_start_iters', [0, 2])
    model = MODELS.build(
        dict(type='ResKDDistiller', student=copy.deepcopy(student_cfg),
             teacher_config=copy.deepcopy(teacher_cfg),
             teacher_ckpt=teacher_ckpt, **kwargs))
    assert isinstance(model, ResKDDistiller)
    if init:
        model.init_weights()
    return model


def _set_iter(iteration):
    MessageHub.get_current_instance().update_info('iter', iteration)


def _total(value):
    return sum(value) if isinstance(value, (list, tuple)) else value


def _perturb(model, seed=0, res_std=0.3, head_std=0.3):
    """Moves the zero-initialised res-student outputs off zero (so F_i
    differ) and spreads the head's class scores over images."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for res in model.res_students:
            for conv in res.out_convs:
                conv.weight.copy_(res_std * torch.randn(conv.weight.shape,
                                                        generator=gen))
        cls = model.student.bbox_head.retina_cls
        cls.weight.copy_(head_std * torch.randn(cls.weight.shape,
                                                generator=gen))


@pytest.fixture
def model(student_cfg, teacher_cfg, teacher_ckpt):
    torch.manual_seed(0)
    return _build(student_cfg, teacher_cfg, teacher_ckpt)


@pytest.fixture(autouse=True)
def _reset_iter():
    yield
    MessageHub.get_current_instance().update_info('iter', 0)


# -- the residual arithmetic on small tensors --------------------------------
def test_residual_targets_and_combined_features_on_small_tensors():
    torch.manual_seed(0)
    shapes = [(2, 4, 3, 3), (2, 4, 2, 2)]
    s = [torch.randn(sh, requires_grad=True) for sh in shapes]
    r1 = [torch.randn(sh, requires_grad=True) for sh in shapes]
    r2 = [torch.randn(sh) for sh in shapes]
    t = [torch.randn(sh[0], 6, *sh[2:]) for sh in shapes]
    adapter = FeatureAdapter(4, 6, 2, mode='conv', bias=False)
    targets = residual_targets(adapter, s, [r1, r2], t)
    assert len(targets) == 2
    for lvl in range(2):
        conv = adapter.convs[lvl]
        # bias-free: A(S + R_1) = A(S) + A(R_1), so the targets chain
        assert torch.allclose(targets[0][lvl], t[lvl] - conv(s[lvl]),
                              atol=1e-6)
        assert torch.allclose(targets[1][lvl],
                              t[lvl] - conv(s[lvl]) - conv(r1[lvl]),
                              atol=1e-5)
        assert not targets[0][lvl].requires_grad
    prefixes = combined_features(s, [r1, r2])
    assert len(prefixes) == 3
    assert torch.equal(prefixes[0][1], s[1])
    assert torch.allclose(prefixes[2][0], s[0] + r1[0] + r2[0])


def test_feature_losses_arithmetic(student_cfg, teacher_cfg):
    model = _build(student_cfg, teacher_cfg, init=False, mimic_weight=2.0,
                   residual_weight=3.0, feature_norm='none')
    gen = torch.Generator().manual_seed(1)
    shapes = [(1, 64, 4, 4), (1, 64, 2, 2)]
    s, r1, t = ([torch.randn(sh, generator=gen) for sh in shapes]
                for _ in range(3))
    assert model.adapter.convs is None  # 64 -> 64 channels: the identity
    losses = model.feature_losses(s, [r1], t)
    mse = lambda a, b: torch.stack(  # noqa: E731
        [F.mse_loss(x, y) for x, y in zip(a, b)]).mean()
    assert torch.allclose(losses['loss_mimic'], 2 * mse(s, t))
    assert torch.allclose(losses['loss_res1'],
                          3 * mse(r1, [b - a for a, b in zip(s, t)]))
    assert losses['loss_res2'].item() == 0.0  # R_2 not active
    # teacher_std: each level's MSE divided by the teacher level's variance
    model.feature_norm = 'teacher_std'
    normed = model.feature_losses(s, [r1], t)['loss_mimic']
    expected = 2 * torch.stack([F.mse_loss(a, b) / b.var()
                                for a, b in zip(s, t)]).mean()
    assert torch.allclose(normed, expected)


# -- the join schedule --------------------------------------------------------
def test_schedule_follows_the_message_hub_iteration(model):
    assert [model.num_active_res_students(i) for i in (0, 1, 2, 9)] == [
        1, 1, 2, 2]
    _set_iter(1)
    assert model.num_active_res_students() == 1
    _set_iter(7)  # e.g. a resumed run: nothing but the iteration matters
    assert model.num_active_res_students() == 2


def test_loss_averages_prefixes_and_res_students_start_at_zero(model, batch):
    inputs, samples = batch
    model.train()
    _set_iter(5)  # both active
    losses = model.loss(inputs, samples)
    assert {'loss_cls', 'loss_bbox', 'reskd.loss_mimic', 'reskd.loss_res1',
            'reskd.loss_res2', 'reskd.loss_cls_f1', 'reskd.loss_cls_f2',
            'reskd.loss_bbox_f2'} <= set(losses)
    own = model.student.bbox_head.loss(
        list(model.student.extract_feat(inputs)), samples)
    # default det_weights: the mean over F_0, F_1, F_2
    assert torch.allclose(_total(losses['loss_cls']),
                          _total(own['loss_cls']) / 3, rtol=1e-5)
    # freshly joined res-students add exactly zero: F_2 == F_0
    assert torch.allclose(_total(losses['reskd.loss_cls_f2']),
                          _total(losses['loss_cls']), rtol=1e-5)
    assert torch.allclose(losses['reskd.loss_res2'],
                          losses['reskd.loss_mimic'], rtol=1e-5)


# -- gradients and the frozen teacher -----------------------------------------
def test_gradients_reach_active_res_students_only(model, batch):
    inputs, samples = batch
    _perturb(model)
    model.train()
    _set_iter(1)  # R_1 active, R_2 not yet
    losses = model.loss(inputs, samples)
    assert losses['reskd.loss_res2'].item() == 0.0
    assert _total(losses['reskd.loss_cls_f2']).item() == 0.0
    assert _total(losses['reskd.loss_cls_f1']).item() > 0
    sum(_total(v) for k, v in losses.items() if 'loss' in k).backward()
    r1, r2 = model.res_students
    for part in (r1.backbone, r1.neck, r1.out_convs):
        grads = [p.grad for p in part.parameters()]
        assert all(g is not None for g in grads)
        assert any(g.abs().sum() > 0 for g in grads)
    # not run at all: no gradient, not even zeros
    assert all(p.grad is None for p in r2.parameters())
    assert model.student.backbone.conv1.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.teacher.parameters())


def test_teacher_is_frozen_and_outside_the_state_dict(model, batch):
    inputs, samples = batch
    assert not any(p.requires_grad for p in model.teacher.parameters())
    # 64 -> 64 channels: the adapter has no weights
    assert {k.split('.')[0] for k in model.state_dict()} == {
        'student', 'res_students'}
    before = {k: v.clone() for k, v in model.teacher.state_dict().items()}
    model.train()
    assert not model.teacher.training
    optim = build_optim_wrapper(
        model, dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9)))
    _set_iter(3)
    student_before = model.student.backbone.conv1.weight.detach().clone()
    r2_before = model.res_students[1].out_convs[0].weight.detach().clone()
    losses = model.loss(inputs, samples)
    optim.update_params(sum(_total(v) for k, v in losses.items()
                            if 'loss' in k))
    for key, value in model.teacher.state_dict().items():
        assert torch.equal(value, before[key]), key
    assert not torch.equal(student_before,
                           model.student.backbone.conv1.weight)
    assert not torch.equal(r2_before,
                           model.res_students[1].out_convs[0].weight)


# -- sample-adaptive inference ------------------------------------------------
def test_image_confidence_on_hand_made_scores(model):
    # 5 classes x 9 anchors per location, two levels, two images
    low = -6.0
    level0 = torch.full((2, 45, 2, 2), low)
    level1 = torch.full((2, 45, 1, 1), low)
    level0[0, 7, 1, 0] = 2.0   # image 0: one confident anchor
    level1[0, 3, 0, 0] = 0.5
    level1[1, 12, 0, 0] = -1.0  # image 1: nothing confident
    sig = torch.sigmoid(torch.tensor([2.0, 0.5, -1.0, low]))
    model.set_inference_mode('adaptive', dict(type='max_score', thr=0.5))
    conf = model.image_confidence([level0, level1])
    assert torch.allclose(conf, torch.stack([sig[0], sig[2]]))
    model.set_inference_mode('adaptive',
                             dict(type='topk_mean', thr=0.5, k=2))
    conf = model.image_confidence([level0, level1])
    assert torch.allclose(conf, torch.stack([(sig[0] + sig[1]) / 2,
                                             (sig[2] + sig[3]) / 2]))


def _confidences_at_every_depth(model, inputs):
    """(N, n+1): each image's confidence after 0..n res-students."""
    with torch.no_grad():
        feats = list(model.student.extract_feat(inputs))
        confs = [model.image_confidence(model.student.bbox_head(feats)[0])]
        for i in range(model.num_res_students):
            feats = model.add_res_student(i, inputs, feats)
            confs.append(
                model.image_confidence(model.student.bbox_head(feats)[0]))
    return torch.stack(confs, dim=1).tolist()


def _expected_depth(confs, thr):
    for depth, conf in enumerate(confs):
        if conf >= thr:
            return depth
    return len(confs) - 1


def _scores(results):
    return [r.pred_instances.scores for r in results]


def test_adaptive_depths_per_image_match_single_image_runs(
        model, make_batch):
    """Three images stopping at depths 0, 1 and 2: the batched run gives
    each image its own depth and exactly its single-image result."""
    inputs, samples = make_batch(num_images=3, seed=4)
    model.eval()
    found = None
    for seed in range(20):  # random weights: find a 0/1/2 split
        # res-students that move the scores less than the images differ
        _perturb(model, seed=seed, res_std=0.03, head_std=1.0)
        confs = _confidences_at_every_depth(model, inputs)
        values = sorted(c for row in confs for c in row)
        for lo, hi in zip(values, values[1:]):
            thr = (lo + hi) / 2
            depths = [_expected_depth(row, thr) for row in confs]
            if sorted(depths) == [0, 1, 2] and hi - lo > 2e-5:
                found = thr, depths
                break
        if found:
            break
    assert found, 'no seed split the images over depths 0, 1 and 2'
    thr, expected = found
    model.set_inference_mode('adaptive', dict(type='max_score', thr=thr))
    with torch.no_grad():
        batched = model.predict(inputs, copy.deepcopy(samples))
    assert model.last_depths == expected
    for i in range(3):
        with torch.no_grad():
            alone = model.predict(inputs[i:i + 1],
                                  copy.deepcopy(samples[i:i + 1]))
        assert model.last_depths == [expected[i]]
        a, b = batched[i].pred_instances, alone[0].pred_instances
        assert torch.allclose(a.scores, b.scores, atol=1e-5)
        assert torch.allclose(a.bboxes, b.bboxes, atol=1e-3)
    assert model.depth_counts == [2, 2, 2]  # 3 batched + 3 alone
    model.reset_depth_stats()
    assert model.depth_counts == [0, 0, 0] and model.last_depths == []


def test_thresholds_at_the_ends_match_the_fixed_modes(model, make_batch):
    inputs, samples = make_batch(num_images=2, seed=2)
    _perturb(model)
    model.eval()
    outputs = {}
    with torch.no_grad():
        for mode, thr in (('adaptive', 0.0), ('none', 0.5),
                          ('adaptive', 1.0), ('all', 0.5)):
            model.set_inference_mode(mode, dict(type='max_score', thr=thr))
            outputs[mode, thr] = (_scores(model.predict(
                inputs, copy.deepcopy(samples))), list(model.last_depths))
        stock = _scores(model.student.predict(inputs, copy.deepcopy(samples)))
    assert outputs['adaptive', 0.0][1] == [0, 0]
    assert outputs['adaptive', 1.0][1] == [2, 2] == outputs['all', 0.5][1]
    for a, b, c in zip(outputs['adaptive', 0.0][0], outputs['none', 0.5][0],
                       stock):
        assert torch.equal(a, b) and torch.equal(a, c)
    for a, b in zip(outputs['adaptive', 1.0][0], outputs['all', 0.5][0]):
        assert torch.allclose(a, b, atol=1e-6)
    # the res-students change the predictions
    assert not torch.allclose(outputs['none', 0.5][0][0][:5],
                              outputs['all', 0.5][0][0][:5])


# -- error messages -----------------------------------------------------------
@pytest.mark.parametrize('kwargs, message', [
    (dict(teacher_config=None), 'needs a teacher'),
    (dict(res_student_start_iters=[5, 2]), 'non-decreasing'),
    (dict(res_student_start_iters=[]), 'res_student_start_iters needs'),
    (dict(det_weights=[1.0, 1.0]), 'det_weights needs n+1 = 3'),
    (dict(mimic_weight=-1.0), 'must be >= 0'),
    (dict(residual_weight=float('nan')), 'must be >= 0'),
    (dict(feature_norm='l2'), 'unknown feature_norm'),
    (dict(skip_rule=dict(type='entropy', thr=0.5)), 'skip_rule must be'),
    (dict(skip_rule=dict(type='max_score', thr=1.5)), 'in [0, 1]'),
    (dict(skip_rule=dict(type='topk_mean', thr=0.5, k=0)), 'k must be >= 1'),
    (dict(inference_mode='fast'), 'unknown inference_mode'),
    (dict(res_student=[RES_STUDENT]), '1 res_student configs for 2'),
])
def test_bad_settings_are_rejected(student_cfg, teacher_cfg, kwargs,
                                   message):
    cfg = dict(student=student_cfg, teacher_config=teacher_cfg)
    cfg.update(kwargs)
    teacher = cfg.pop('teacher_config')
    with pytest.raises(ValueError, match=re.escape(message)):
        _build(cfg.pop('student'), teacher, init=False, **cfg)


def test_mismatched_res_student_strides_are_refused_when_built(
        student_cfg, teacher_cfg):
    bad = copy.deepcopy(RES_STUDENT)
    bad['neck']['start_level'] = 0  # strides 4..64 instead of 8..128
    with pytest.raises(ValueError, match=r'res-student 1 gives levels .* '
                       r'start_level'):
        _build(student_cfg, teacher_cfg, init=False, res_student=bad,
               res_student_start_iters=[0])


def test_res_student_errors():
    with pytest.raises(ValueError, match='out_channels must be >= 1'):
        ResStudent(RES_STUDENT['backbone'], dict(type='FPN'), 0)
    # a neck without fpn_convs and no projection: nothing to zero
    with pytest.raises(ValueError, match='no fpn_convs'):
        ResStudent(RES_STUDENT['backbone'],
                   dict(type='ChannelMapper', out_channels=64), 64)


def test_a_non_finite_deeper_detection_loss_stops_the_step(model, batch):
    """The detection losses on F_1..F_k are guarded like the rest: a
    res-student that blows up stops the step, naming the loss."""
    _set_iter(5)  # both res-students active
    with torch.no_grad():
        for param in model.res_students[1].parameters():
            param.fill_(float('nan'))
    # the residual loss of R_2 is NaN too and caught first; with only the
    # detection losses left, the deeper ones must still be caught
    model.feature_losses = lambda *args: {}
    with pytest.raises(FloatingPointError, match=r"'reskd\.loss_.*_f2'"):
        model.loss(*batch)


def test_late_res_students_must_start_at_zero(student_cfg, teacher_cfg):
    res_student = copy.deepcopy(RES_STUDENT)
    res_student['zero_init_output'] = False
    with pytest.raises(ValueError, match=r'res-students \[2\] join after '
                       'iteration 0 but have zero_init_output=False'):
        _build(student_cfg, teacher_cfg, init=False, res_student=res_student)
