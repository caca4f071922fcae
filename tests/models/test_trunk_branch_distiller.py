"""Trunk-to-Branch on the real tiny RetinaNet: decorrelation and ensemble
arithmetic, the batched branch losses, gradients, inference without the
branches, the plain-student export and error messages."""
import copy
import math

import pytest
import torch
from mmdet.registry import MODELS

from mmera.converters import extract_student_state
from mmera.models import DecorrelationLoss, TrunkBranchDistiller
from mmera.models.trunk_branch.peer_branches import PeerBranches
from mmera.models.trunk_branch.trunk_branch_distiller import (
    ensemble_bbox_loss,
    ensemble_cls_loss,
)


def _build(student_cfg, init=True, **kwargs):
    model = MODELS.build(
        dict(type='TrunkBranchDistiller', student=copy.deepcopy(student_cfg),
             **kwargs))
    assert isinstance(model, TrunkBranchDistiller)
    if init:
        torch.manual_seed(0)
        model.init_weights()
    return model


def _total(value):
    return sum(value) if isinstance(value, (list, tuple)) else value


def _grad_norm(module):
    grads = [p.grad.abs().sum() for p in module.parameters()
             if p.grad is not None]
    return float(sum(grads)) if grads else 0.0


def _spread_head_logits(model, seed=0):
    """An untrained head outputs the same prior score everywhere; larger
    output weights make trunk, peers and their ensemble differ."""
    gen = torch.Generator().manual_seed(seed)
    head = model.student.bbox_head
    with torch.no_grad():
        for conv in (head.retina_cls, head.retina_reg):
            conv.weight.copy_(0.2 * torch.randn(conv.weight.shape,
                                                generator=gen))


# -- DecorrelationLoss arithmetic --------------------------------------------
def test_decorrelation_of_identical_and_anti_correlated_branches_is_one():
    x = torch.randn(1, 2, 8, 5, 5)
    loss = DecorrelationLoss()
    assert loss(x.repeat(3, 1, 1, 1, 1)).item() == pytest.approx(1, abs=1e-5)
    assert loss(torch.cat([x, -x])).item() == pytest.approx(1, abs=1e-5)


def test_decorrelation_of_independent_and_partly_correlated_branches():
    gen = torch.Generator().manual_seed(0)
    x, noise = torch.randn(2, 2, 16, 32, 32, generator=gen)
    loss = DecorrelationLoss()
    # independent: rho ~ 1/sqrt(D) with D = 16k values
    assert loss(torch.stack([x, noise])).item() < 1e-3
    # y = x + n with x, n iid: rho = 1/sqrt(2), rho^2 = 1/2
    half = loss(torch.stack([x, x + noise])).item()
    assert half == pytest.approx(0.5, abs=0.02)
    # 3 branches (x, x + n, n): pairs 1/2, 0, 1/2 -> mean 1/3
    third = loss(torch.stack([x, x + noise, noise])).item()
    assert third == pytest.approx(1 / 3, abs=0.02)


def test_decorrelation_is_scale_invariant_weighted_and_level_averaged():
    gen = torch.Generator().manual_seed(1)
    x, noise = torch.randn(2, 3, 8, 6, 6, generator=gen)
    pair = torch.stack([x, 0.5 * x + noise])
    loss = DecorrelationLoss(loss_weight=2.0)
    value = loss(pair)
    scaled = loss(torch.stack([1e3 * pair[0], 1e-3 * pair[1] + 7.0]))
    assert torch.allclose(value, scaled, rtol=1e-4)
    # a sequence of levels is averaged; the weight multiplies
    same = torch.stack([x, x])
    assert loss([same, same]).item() == pytest.approx(2.0, abs=1e-4)
    both = loss([same, pair]).item()
    assert both == pytest.approx((2.0 + value.item()) / 2, abs=1e-4)


def test_decorrelation_errors():
    with pytest.raises(ValueError, match='needs outputs of >= 2 branches'):
        DecorrelationLoss()(torch.randn(1, 2, 4, 3, 3))
    with pytest.raises(ValueError, match='same K'):
        DecorrelationLoss()([torch.randn(2, 1, 4), torch.randn(3, 1, 4)])
    with pytest.raises(ValueError, match='loss_weight must be >= 0'):
        MODELS.build(dict(type='DecorrelationLoss', loss_weight=-1.0))


# -- ensemble arithmetic -----------------------------------------------------
def test_ensemble_is_the_detached_branch_mean():
    rows = torch.randn(3 * 2, 4, 2, 2, requires_grad=True)  # K=3, B=2
    ens = PeerBranches.ensemble([rows], 3)[0]
    assert not ens.requires_grad and ens.shape == (2, 4, 2, 2)
    expected = (rows[0:2] + rows[2:4] + rows[4:6]) / 3
    assert torch.allclose(ens, expected)


def test_ensemble_cls_loss_is_tempered_binary_kl_per_positive():
    # 1 image, 1 anchor per position, 2 classes, 1x2 positions: 2 anchors
    z = torch.tensor([[[[0.0, 1.0]], [[-2.0, 0.5]]]], requires_grad=True)
    e = torch.tensor([[[[math.log(3.0), 1.0]], [[0.0, -1.0]]]])
    sig = torch.sigmoid

    def sigmoid(v):
        return 1 / (1 + math.exp(-v))

    def kl(q, p):
        return q * math.log(q / p) + (1 - q) * math.log((1 - q) / (1 - p))

    for t in (1.0, 2.0):
        expected = t * t * sum(
            kl(sigmoid(ev / t), sigmoid(zv / t))
            for zv, ev in zip(z.flatten().tolist(), e.flatten().tolist()))
        value = ensemble_cls_loss([z], [e], t, avg_factor=4, num_classes=2)
        assert value.item() == pytest.approx(expected / 4, rel=1e-5)
    # gradient per logit: T (sigmoid(z/T) - sigmoid(e/T)) / N
    value.backward()
    assert torch.allclose(z.grad, 2.0 * (sig(z / 2) - sig(e / 2)) / 4,
                          atol=1e-6)
    # zero when the trunk matches; an anchor of weight 0 does not count
    assert ensemble_cls_loss([e], [e], 1.0, 1, 2).item() == pytest.approx(0)
    only_first = ensemble_cls_loss([z.detach()], [e], 1.0, 1, 2,
                                   [torch.tensor([[1.0, 0.0]])])
    expected = sum(kl(sigmoid(float(e[0, c, 0, 0])),
                      sigmoid(float(z[0, c, 0, 0].detach())))
                   for c in range(2))
    assert only_first.item() == pytest.approx(expected, rel=1e-5)
    # avg_factor 0 (no positives) is clamped to 1
    assert ensemble_cls_loss([z], [e], 1.0, 0, 2).item() == pytest.approx(
        ensemble_cls_loss([z], [e], 1.0, 1, 2).item())


def test_ensemble_cls_loss_quality_focal_modulation():
    """gamma > 0 weights each anchor-class KL by the detached |q - p|^gamma:
    near-agreeing anchors fade out, the gradient keeps the KL's direction."""
    z = torch.tensor([[[[0.0, 3.0]], [[-2.0, 0.5]]]], requires_grad=True)
    e = torch.tensor([[[[0.1, -3.0]], [[-2.0, 0.6]]]])

    def sigmoid(v):
        return 1 / (1 + math.exp(-v))

    def kl(q, p):
        return q * math.log(q / p) + (1 - q) * math.log((1 - q) / (1 - p))

    pairs = list(zip(z.flatten().tolist(), e.flatten().tolist()))
    for gamma in (1.0, 2.0):
        expected = sum(
            abs(sigmoid(ev) - sigmoid(zv))**gamma
            * kl(sigmoid(ev), sigmoid(zv))
            for zv, ev in pairs)
        value = ensemble_cls_loss([z], [e], 1.0, 1, 2, gamma=gamma)
        assert value.item() == pytest.approx(expected, rel=1e-5)
    plain = ensemble_cls_loss([z], [e], 1.0, 1, 2)
    assert value.item() < plain.item()  # every factor is < 1
    # the big disagreement (z=3 vs e=-3) dominates more with modulation
    big = [i for i, (zv, ev) in enumerate(pairs) if abs(zv - ev) > 1][0]
    grad_plain = torch.autograd.grad(plain, z)[0].flatten()
    grad_focal = torch.autograd.grad(
        ensemble_cls_loss([z], [e], 1.0, 1, 2, gamma=2.0), z)[0].flatten()
    assert torch.equal(torch.sign(grad_plain), torch.sign(grad_focal))
    share = grad_focal.abs()[big] / grad_focal.abs().sum()
    assert share > grad_plain.abs()[big] / grad_plain.abs().sum()


def test_ensemble_bbox_loss_counts_confident_anchors_only():
    logit = math.log(0.9 / 0.1)  # confidence 0.9
    # 2 anchors (1x2 positions), 2 classes; anchor 0 confident, 1 not
    e_cls = torch.tensor([[[[logit, -3.0]], [[-5.0, -1.0]]]])
    z = torch.zeros(1, 4, 1, 2)
    d = torch.tensor([[[[1.0, 9.0]], [[-2.0, 9.0]], [[0.5, 9.0]],
                       [[0.0, 9.0]]]])
    value = ensemble_bbox_loss([z], [d], [e_cls], 0.5, num_classes=2)
    # 0.9 * (1 + 2 + 0.5 + 0) / max(0.9, 1)
    assert value.item() == pytest.approx(0.9 * 3.5, rel=1e-5)
    assert ensemble_bbox_loss([z], [d], [e_cls], 0.95, 2).item() == 0.0
    # with both anchors counted, the confidences normalise
    both = ensemble_bbox_loss([z], [d], [e_cls], 0.0, 2).item()
    conf1 = 1 / (1 + math.e)  # anchor 1: max(sigmoid(-3), sigmoid(-1))
    assert both == pytest.approx((0.9 * 3.5 + conf1 * 36) / (0.9 + conf1),
                                 rel=1e-5)


# -- PeerBranches ------------------------------------------------------------
@pytest.mark.parametrize('layer', ['conv', 'separable'])
def test_branches_start_near_the_trunk_yet_distinct(layer):
    torch.manual_seed(0)
    peers = PeerBranches(64, num_branches=3, layer=layer, init_scale=0.1)
    feats = [torch.randn(2, 64, 16, 16), torch.randn(2, 64, 8, 8)]
    branch_feats, residuals = peers(feats)
    assert branch_feats[0].shape == (6, 64, 16, 16)
    assert residuals[1].shape == (3, 2, 64, 8, 8)
    assert torch.allclose(branch_feats[1][2:4], feats[1] + residuals[1][1])
    ratio = residuals[0].pow(2).mean().sqrt() / feats[0].pow(2).mean().sqrt()
    assert 0.07 < ratio.item() < 0.13  # init_scale: RMS(r_b) / RMS(F)
    assert DecorrelationLoss()(residuals).item() < 0.05


def test_separable_branches_are_lighter():
    conv = PeerBranches(64, layer='conv')
    separable = PeerBranches(64, layer='separable')
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(separable) * 6 < count(conv)


# -- the distiller -----------------------------------------------------------
def test_trunk_loss_is_the_stock_loss_and_branch_loss_the_branch_mean(
        student_cfg, batch):
    model = _build(student_cfg, ens_bbox_thr=0.0)
    _spread_head_logits(model)
    inputs, samples = batch
    losses = model.loss(inputs, samples)
    stock = model.student.loss(inputs, samples)
    for key in ('loss_cls', 'loss_bbox'):
        assert all(torch.allclose(a, b) for a, b in zip(losses[key],
                                                          stock[key])), key
    for key in ('tb.loss_branch_cls', 'tb.loss_branch_bbox',
                'tb.loss_ens_cls', 'tb.loss_ens_bbox', 'tb.loss_decor'):
        assert torch.isfinite(losses[key]) and losses[key] > 0, key
    # the batched, once-assigned branch loss = the mean of per-branch losses
    feats = list(model.student.extract_feat(inputs))
    branch_feats, _ = model.branches(feats)
    per_branch = []
    for b in range(3):
        rows = [f[2 * b:2 * b + 2] for f in branch_feats]
        per_branch.append(model.student.bbox_head.loss(rows, samples))
    for key in ('loss_cls', 'loss_bbox'):
        mean = sum(_total(p[key]) for p in per_branch) / 3
        assert torch.allclose(losses[f'tb.{key[:5]}branch_{key[5:]}'], mean,
                              rtol=1e-5), key


def test_gradients_ensemble_detached_decor_to_branches_trunk_learns(
        student_cfg, batch):
    model = _build(student_cfg, ens_bbox_thr=0.0)
    _spread_head_logits(model)
    inputs, samples = batch
    trunk = model.student

    losses = model.loss(inputs, samples)
    assert losses['tb.loss_ens_cls'] > 1e-5 and losses['tb.loss_ens_bbox'] > 0
    (losses['tb.loss_ens_cls'] + losses['tb.loss_ens_bbox']).backward()
    # the ensemble is a target: no gradient reaches the branches
    assert _grad_norm(model.branches) == 0.0
    for part in (trunk.backbone, trunk.neck, trunk.bbox_head):
        assert _grad_norm(part) > 0

    model.zero_grad(set_to_none=True)
    model.loss(inputs, samples)['tb.loss_decor'].backward()
    for branch in model.branches.branches:
        assert _grad_norm(branch) > 0
    # detach_input: the decorrelation does not reshape the trunk
    assert _grad_norm(trunk.neck) == 0 and _grad_norm(trunk.backbone) == 0

    attached = _build(student_cfg, branches=dict(detach_input=False))
    attached.loss(inputs, samples)['tb.loss_decor'].backward()
    assert _grad_norm(attached.student.neck) > 0

    model.zero_grad(set_to_none=True)
    losses = model.loss(inputs, samples)
    sum(_total(v) for k, v in losses.items() if 'loss' in k).backward()
    for part in (trunk.backbone, trunk.neck, trunk.bbox_head, model.branches):
        assert _grad_norm(part) > 0


def test_predict_is_the_plain_student_without_branches(student_cfg, batch):
    model = _build(student_cfg)
    _spread_head_logits(model)

    def explode(*args, **kwargs):
        raise AssertionError('a branch ran at predict time')

    model.branches.forward = explode
    state = model.state_dict()
    assert {k.split('.')[0] for k in state} == {'student', 'branches'}
    exported = extract_student_state(state)
    assert not any('branches' in k for k in exported)
    stock = MODELS.build(copy.deepcopy(student_cfg))
    stock.load_state_dict(exported, strict=True)
    model.eval()
    stock.eval()
    inputs, samples = batch
    with torch.no_grad():
        ours = model.predict(inputs, copy.deepcopy(samples))
        theirs = stock.predict(inputs, copy.deepcopy(samples))
    for a, b in zip(ours, theirs):
        assert len(a.pred_instances) > 0
        for key in ('bboxes', 'scores', 'labels'):
            assert torch.equal(a.pred_instances[key], b.pred_instances[key])


@pytest.mark.parametrize('kwargs, message', [
    (dict(branches=dict(num_branches=1)), 'num_branches must be >= 2'),
    (dict(branches=dict(width=3)),
     r"unknown branches option\(s\) \['width'\]"),
    (dict(branches=dict(layer='mlp')), "unknown layer 'mlp'"),
    (dict(branches=dict(init_scale=0.0)), 'init_scale must be > 0'),
    (dict(branch_det_weight=-1.0), 'branch_det_weight must be >= 0'),
    (dict(branch_det_weight=float('nan')), 'branch_det_weight must be >= 0'),
    (dict(ens_cls_weight=-0.1), 'ens_cls_weight must be >= 0'),
    (dict(ens_bbox_weight=-2.0), 'ens_bbox_weight must be >= 0'),
    (dict(temperature=0.0), 'temperature must be > 0'),
    (dict(ens_cls_gamma=-1.0), 'ens_cls_gamma must be >= 0'),
    (dict(ens_bbox_thr=1.5), r'ens_bbox_thr must be in \[0, 1\]'),
    (dict(loss_decor=dict(type='DecorrelationLoss', loss_weight=-1.0)),
     'loss_weight must be >= 0'),
    (dict(teacher_config='some_teacher.py'), 'is teacher-free'),
])
def test_bad_options_raise_clear_errors(student_cfg, kwargs, message):
    with pytest.raises(ValueError, match=message):
        _build(student_cfg, init=False, **kwargs)


def test_unsupported_heads_raise_clear_errors(student_cfg):
    fcos = copy.deepcopy(student_cfg)
    fcos.bbox_head = dict(type='FCOSHead', num_classes=5, in_channels=64,
                          feat_channels=64, stacked_convs=1)
    fcos.train_cfg = None
    with pytest.raises(ValueError, match='FCOSHead is not supported'):
        _build(fcos, init=False)
    softmax = copy.deepcopy(student_cfg)
    softmax.bbox_head.loss_cls = dict(type='CrossEntropyLoss',
                                      use_sigmoid=False)
    with pytest.raises(ValueError, match='must use a sigmoid classifier'):
        _build(softmax, init=False)
    no_neck = copy.deepcopy(student_cfg)
    no_neck.type = 'SingleStageDetector'
    no_neck.pop('neck')
    with pytest.raises(ValueError, match=r'neck \(no neck \(backbone\)\) '
                       'returns maps of different widths'):
        _build(no_neck, init=False)
