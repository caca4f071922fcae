"""FitNet and PKD (FeatureDistiller): PearsonFeatureLoss's arithmetic on small
tensors, then the distillers on the real tiny RetinaNet pair: loss values,
gradients, the frozen teacher, prediction and error messages."""
import copy

import pytest
import torch
from mmdet.registry import MODELS
from mmengine.optim import build_optim_wrapper
from torch.nn import functional as F

from mmera.models import FitNetDistiller, PearsonFeatureLoss, PKDDistiller

# -- PearsonFeatureLoss -------------------------------------------------------


def _feats(seed, shape=(2, 3, 5, 4)):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=gen, dtype=torch.float64)


def _pearson_per_channel(a, b):
    """Independent reference: torch.corrcoef of each channel's N*H*W values."""
    rs = []
    for c in range(a.shape[1]):
        pair = torch.stack([a[:, c].flatten(), b[:, c].flatten()])
        rs.append(torch.corrcoef(pair)[0, 1])
    return torch.stack(rs)


def test_pearson_loss_is_the_mean_of_one_minus_r():
    a, b = _feats(0), _feats(1)
    r = _pearson_per_channel(a, b)
    assert r.abs().max() > 0.05  # a non-trivial correlation to match
    loss = PearsonFeatureLoss()(a, b)
    assert loss.item() == pytest.approx((1 - r).mean().item(), rel=1e-5)
    # loss_weight scales linearly
    assert PearsonFeatureLoss(loss_weight=6.0)(a, b).item() == pytest.approx(
        6 * loss.item(), rel=1e-12)


def test_pearson_loss_is_zero_for_identical_and_two_for_opposite_features():
    a = _feats(2)
    loss = PearsonFeatureLoss()
    assert loss(a, a).item() == pytest.approx(0.0, abs=1e-10)
    assert loss(a, -a).item() == pytest.approx(2.0, rel=1e-5)
    # flipping one channel of three: that channel's 1 - r is 2
    flipped = a.clone()
    flipped[:, 1] *= -1
    assert loss(a, flipped).item() == pytest.approx(2.0 / 3, rel=1e-5)


def test_pearson_loss_ignores_per_channel_affine_transforms():
    a, b = _feats(3), _feats(4)
    loss = PearsonFeatureLoss()
    base = loss(a, b).item()
    scale = torch.tensor([0.1, 3.0, 250.0], dtype=a.dtype).view(1, 3, 1, 1)
    shift = torch.tensor([-5.0, 0.3, 1e3], dtype=a.dtype).view(1, 3, 1, 1)
    assert loss(a * scale + shift, b).item() == pytest.approx(base, rel=1e-4)
    assert loss(a, b * scale + shift).item() == pytest.approx(base, rel=1e-4)
    # statistics pool the batch (as MMRazor's): rescaling one image is not
    # a per-channel transform and changes the loss
    per_image = torch.tensor([1.0, 5.0], dtype=a.dtype).view(2, 1, 1, 1)
    assert abs(loss(a * per_image, b).item() - base) > 1e-3


def test_pearson_loss_gradients_are_correct_and_finite_on_constant_channels():
    a, b = _feats(5, (2, 2, 3, 3)), _feats(6, (2, 2, 3, 3))
    a.requires_grad_()
    loss = PearsonFeatureLoss(loss_weight=2.0)
    assert torch.autograd.gradcheck(lambda x: loss(x, b), (a, ))
    # a constant (e.g. dead) channel is all zeros after standardisation:
    # no NaN in the loss or its gradient
    dead = a.detach().clone()
    dead[:, 0] = 4.0
    dead.requires_grad_()
    value = loss(dead, b)
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(dead.grad).all()


def test_pearson_loss_rejects_mismatched_shapes_and_negative_weights():
    a = _feats(7)
    with pytest.raises(ValueError, match='same shape.*adapter'):
        PearsonFeatureLoss()(a, a[:, :2])
    with pytest.raises(ValueError, match=r'\(N, C, H, W\)'):
        PearsonFeatureLoss()(a[0], a[0])
    with pytest.raises(ValueError, match='loss_weight must be >= 0'):
        PearsonFeatureLoss(loss_weight=-1.0)


# -- the distillers on the tiny RetinaNet pair --------------------------------


def _build(kind, student_cfg, teacher_cfg, teacher_ckpt=None, init=True,
           **kwargs):
    model = MODELS.build(
        dict(
            type=kind,
            student=copy.deepcopy(student_cfg),
            teacher_config=copy.deepcopy(teacher_cfg),
            teacher_ckpt=teacher_ckpt,
            **kwargs))
    if init:
        model.init_weights()
    return model


def _narrow_fpn(cfg, channels=32):
    cfg.neck.out_channels = channels
    cfg.bbox_head.in_channels = channels
    return cfg


def _uint8_batch(samples, size=128):
    gen = torch.Generator().manual_seed(1)
    inputs = [
        torch.randint(0, 256, (3, size, size), generator=gen,
                      dtype=torch.uint8) for _ in samples
    ]
    return dict(inputs=inputs, data_samples=samples)


def test_defaults_and_what_is_saved(student_cfg, teacher_cfg):
    fitnet = _build('FitNetDistiller', student_cfg, teacher_cfg, init=False)
    assert isinstance(fitnet, FitNetDistiller)
    assert fitnet.levels == [0, 1, 2, 3, 4]
    assert type(fitnet.distill_loss).__name__ == 'MSELoss'
    assert fitnet.distill_loss.loss_weight == 1.0
    # FitNet's regressor exists even with equal (64) channels
    assert len(fitnet.adapter.convs) == 5
    assert {k.split('.')[0] for k in fitnet.state_dict()} == {
        'student', 'adapter'}

    pkd = _build('PKDDistiller', student_cfg, teacher_cfg, init=False,
                 distill_loss=dict(loss_weight=2.5))  # no type: keeps PKD's
    assert isinstance(pkd, PKDDistiller)
    assert isinstance(pkd.distill_loss, PearsonFeatureLoss)
    assert pkd.distill_loss.loss_weight == 2.5
    assert pkd.adapter.convs is None  # 'auto' with 64 -> 64 channels
    assert {k.split('.')[0] for k in pkd.state_dict()} == {'student'}
    assert 'teacher' not in dict(pkd.named_children())

    narrow = _build('PKDDistiller', _narrow_fpn(student_cfg), teacher_cfg,
                    init=False, levels=(1, 3))
    assert [tuple(c.weight.shape) for c in narrow.adapter.convs] == [
        (64, 32, 1, 1)] * 2


def _expected_feat_loss(model, inputs):
    """``loss_feat`` recomputed level by level with plain torch."""
    student = model.student.extract_feat(inputs)
    teacher = model.teacher.extract_feat(inputs)
    total = 0.
    for i, level in enumerate(model.levels):
        s, t = student[level], teacher[level]
        if model.adapter.convs is not None:
            s = model.adapter.convs[i](s)
        if isinstance(model, PKDDistiller):
            r = _pearson_per_channel(s.double(), t.double())
            total += model.distill_loss.loss_weight * (1 - r).mean()
        else:
            total += model.distill_loss.loss_weight * F.mse_loss(s, t)
    return total


@pytest.mark.parametrize('kind, prefix, kwargs', [
    ('FitNetDistiller', 'fitnet', {}),
    ('FitNetDistiller', 'fitnet',
     dict(levels=(1, 3), distill_loss=dict(loss_weight=0.5))),
    ('PKDDistiller', 'pkd', dict(levels=(0, 1, 2, 3))),
])
def test_loss_is_the_student_loss_plus_the_summed_level_losses(
        kind, prefix, kwargs, student_cfg, teacher_cfg, teacher_ckpt, batch):
    inputs, samples = batch
    torch.manual_seed(0)
    model = _build(kind, student_cfg, teacher_cfg, teacher_ckpt, **kwargs)
    model.train()
    losses = model.loss(inputs, samples)
    assert set(losses) == {'loss_cls', 'loss_bbox', f'{prefix}.loss_feat'}
    with torch.no_grad():
        expected = _expected_feat_loss(model, inputs)
        own = model.student.loss(inputs, samples)
    assert expected > 0.1
    assert losses[f'{prefix}.loss_feat'].item() == pytest.approx(
        float(expected), rel=1e-4)
    for key in ('loss_cls', 'loss_bbox'):  # the student's own, unchanged
        assert torch.allclose(torch.stack(losses[key]), torch.stack(own[key]))


def test_warmup_factor_scales_only_the_feature_loss(student_cfg, teacher_cfg,
                                                    teacher_ckpt, batch):
    model = _build('PKDDistiller', student_cfg, teacher_cfg, teacher_ckpt)
    model.eval()  # BN in eval: two calls give identical features
    full = model.loss(*batch)
    model.distill_loss_factor = 0.25
    quarter = model.loss(*batch)
    assert quarter['pkd.loss_feat'].item() == pytest.approx(
        0.25 * full['pkd.loss_feat'].item(), rel=1e-5)
    assert torch.allclose(
        torch.stack(quarter['loss_cls']), torch.stack(full['loss_cls']))


@pytest.mark.parametrize('kind, narrow', [('FitNetDistiller', False),
                                          ('PKDDistiller', True)])
def test_feature_loss_gradients_reach_backbone_neck_and_adapter(
        kind, narrow, student_cfg, teacher_cfg, teacher_ckpt, batch):
    if narrow:  # 32-channel student FPN: PKD's 'auto' adapter is built
        student_cfg = _narrow_fpn(student_cfg)
    model = _build(kind, student_cfg, teacher_cfg, teacher_ckpt)
    model.train()
    losses = model.loss(*batch)
    feat_loss = [v for k, v in losses.items() if k.endswith('loss_feat')][0]
    feat_loss.backward()

    def nonzero(params):
        return any(p.grad is not None and torch.count_nonzero(p.grad) > 0
                   for p in params)

    assert nonzero(model.student.backbone.parameters())
    assert nonzero(model.student.neck.parameters())
    assert nonzero(model.adapter.parameters())
    # the feature loss does not reach the student's head
    assert all(p.grad is None for p in model.student.bbox_head.parameters())
    for p in model.teacher.parameters():
        assert not p.requires_grad and p.grad is None


@pytest.mark.parametrize('kind', ['FitNetDistiller', 'PKDDistiller'])
def test_train_step_trains_the_student_and_leaves_the_teacher(
        kind, student_cfg, teacher_cfg, teacher_ckpt, batch):
    model = _build(kind, student_cfg, teacher_cfg, teacher_ckpt)
    teacher_before = {
        k: v.clone() for k, v in model.teacher.state_dict().items()}
    student_before = {
        k: v.clone() for k, v in model.student.state_dict().items()}
    adapter_before = {
        k: v.clone() for k, v in model.adapter.state_dict().items()}
    optim_wrapper = build_optim_wrapper(
        model, dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9)))
    optim_ids = {
        id(p) for g in optim_wrapper.optimizer.param_groups
        for p in g['params']}
    assert not optim_ids & {id(p) for p in model.teacher.parameters()}

    model.train()
    assert not model.teacher.training
    log_vars = model.train_step(_uint8_batch(batch[1]), optim_wrapper)
    assert torch.isfinite(log_vars['loss'])
    assert any(k.endswith('.loss_feat') for k in log_vars)

    for key, value in model.teacher.state_dict().items():
        assert torch.equal(value, teacher_before[key]), key
    assert not any(p.requires_grad for p in model.teacher.parameters())
    assert not model.teacher.training
    changed = [k for k, v in model.student.state_dict().items()
               if not torch.equal(v, student_before[k])]
    assert any(k.startswith('backbone.') and k.endswith('weight')
               for k in changed)
    assert any('running_mean' in k for k in changed)
    for key, value in model.adapter.state_dict().items():  # FitNet's only
        assert not torch.equal(value, adapter_before[key]), key


def test_teacher_with_other_classes_is_fine(student_cfg, teacher_cfg, batch,
                                            tmp_path):
    """Only the teacher's FPN is used: its head may predict other classes."""
    teacher_cfg.bbox_head.num_classes = 3
    teacher = MODELS.build(copy.deepcopy(teacher_cfg))
    ckpt = tmp_path / 'teacher3.pth'
    torch.save({'state_dict': teacher.state_dict()}, ckpt)
    model = _build('PKDDistiller', student_cfg, teacher_cfg, str(ckpt))
    losses = model.loss(*batch)
    assert torch.isfinite(losses['pkd.loss_feat'])


def test_predict_is_the_student_alone(student_cfg, teacher_cfg, teacher_ckpt,
                                      make_batch):
    model = _build('FitNetDistiller', student_cfg, teacher_cfg, teacher_ckpt)
    model.eval()
    inputs, samples = make_batch(seed=3)
    with torch.no_grad():
        ours = model.predict(inputs, copy.deepcopy(samples))
        plain = model.student.predict(inputs, copy.deepcopy(samples))
    for a, b in zip(ours, plain):
        assert len(a.pred_instances) > 0
        for key in ('bboxes', 'scores', 'labels'):
            assert torch.equal(a.pred_instances[key], b.pred_instances[key])


# -- errors -------------------------------------------------------------------


def test_adapter_errors_name_the_config_key(student_cfg, teacher_cfg):
    with pytest.raises(ValueError, match=r'32 channels.*64.*mode "none".*'
                       r'Use mode "auto".*`adapter`'):
        _build('PKDDistiller', _narrow_fpn(copy.deepcopy(student_cfg)),
               teacher_cfg, init=False, adapter='none')
    with pytest.raises(ValueError, match="unknown mode 'linear'.*`adapter`"):
        _build('FitNetDistiller', student_cfg, teacher_cfg, init=False,
               adapter='linear')


@pytest.mark.parametrize('levels', [(5, ), (), (0, 0), (-1, ), (1.0, )])
def test_bad_levels_are_rejected(levels, student_cfg, teacher_cfg):
    with pytest.raises(ValueError,
                       match=r'`levels` must be distinct level indices '
                       r'in 0\.\.4 \(student and teacher have 5 strides in '
                       r'common: \[8, 16, 32, 64, 128\]\)'):
        _build('PKDDistiller', student_cfg, teacher_cfg, init=False,
               levels=levels)


def test_bad_model_configs_are_rejected(student_cfg, teacher_cfg,
                                        teacher_ckpt, batch):
    with pytest.raises(ValueError, match='FitNetDistiller needs a teacher'):
        MODELS.build(dict(type='FitNetDistiller', student=student_cfg,
                          teacher_config=None))
    with pytest.raises(ValueError, match='`distill_loss` must be a loss '
                       'config dict'):
        _build('FitNetDistiller', student_cfg, teacher_cfg, init=False,
               distill_loss='mse')
    # an unreduced loss is caught at the first step, naming the fix
    model = _build('FitNetDistiller', student_cfg, teacher_cfg, teacher_ckpt,
                   distill_loss=dict(type='mmdet.MSELoss', reduction='none'))
    with pytest.raises(ValueError, match='reduce to a scalar'):
        model.loss(*batch)
