"""MBRNet: residual targets, approximations, init, adapter, sharing, losses."""
import copy

import pytest
import torch
import torch.nn.functional as F
from mmdet.registry import MODELS
from mmengine.model import BaseModel
from mmengine.optim import build_optim_wrapper
from torch import nn

from mmera.models import MBRNet

# Three FPN-like levels of decreasing size.
SHAPES = [(2, 8, 8, 8), (2, 8, 4, 4), (2, 8, 2, 2)]


def _levels(seed, shapes=SHAPES, channels=None):
    gen = torch.Generator().manual_seed(seed)
    return [
        torch.randn(*((s[0], channels) + s[2:] if channels else s),
                    generator=gen) for s in shapes
    ]


def _close(a, b):
    return all(torch.allclose(x, y, atol=1e-6) for x, y in zip(a, b))


def test_default_branch_scales_halve():
    net = MBRNet(8, 8, num_branches=4)
    assert net.branch_scales == [1.0, 0.5, 0.25, 0.125]


def test_residual_targets_follow_the_recursion():
    base, teacher = _levels(0), _levels(1)
    preds = [_levels(10 + k) for k in range(3)]
    targets = MBRNet.residual_targets(base, preds, teacher)
    assert len(targets) == 3
    # r_1 = T - P(S)
    assert _close(targets[0], [t - b for t, b in zip(teacher, base)])
    # r_k = r_{k-1} - pred_{k-1}
    for k in range(1, 3):
        assert _close(targets[k],
                      [r - p for r, p in zip(targets[k - 1], preds[k - 1])])
    # equivalently r_k = T - M_{k-1}: the residual left by the approximation
    approx = MBRNet.approximations(base, preds)
    for k in range(3):
        assert _close(targets[k], [t - m for t, m in zip(teacher, approx[k])])


def test_approximations_accumulate_predictions():
    base = _levels(0)
    preds = [_levels(10 + k) for k in range(3)]
    approx = MBRNet.approximations(base, preds)
    assert len(approx) == 4
    assert _close(approx[0], base)
    for k in range(1, 4):
        expected = [b + sum(p[lvl] for p in preds[:k])
                    for lvl, b in enumerate(base)]
        assert _close(approx[k], expected)


def test_perfect_branches_reconstruct_the_teacher_exactly():
    base, teacher = _levels(0), _levels(1)
    num_branches = 4
    net = MBRNet(8, 8, num_branches=num_branches)
    # Build "perfect" predictions one at a time: pred_k := r_k, where
    # r_k = r_{k-1} - pred_{k-1} (residual_targets of k predictions gives
    # r_1..r_k; the last prediction does not enter any target).
    preds = []
    for _ in range(num_branches):
        targets = MBRNet.residual_targets(base, preds + [None], teacher)
        preds.append([r.clone() for r in targets[-1]])
    approx = MBRNet.approximations(base, preds)
    assert _close(approx[-1], teacher)
    assert _close(approx[1], teacher)  # the first perfect branch already did
    losses = net.loss(base, preds, teacher)
    assert losses['loss_residual'].item() == pytest.approx(0.0, abs=1e-12)


def test_halving_branches_leave_a_geometric_residual():
    """Branches that each predict half of their target leave
    ``M_K = T - 0.5**K * (T - P(S))``: the expansion is successive."""
    base, teacher = _levels(0), _levels(1)
    preds = []
    for _ in range(3):
        targets = MBRNet.residual_targets(base, preds + [None], teacher)
        preds.append([0.5 * r for r in targets[-1]])
    targets = MBRNet.residual_targets(base, preds, teacher)
    for k in range(3):
        assert _close(targets[k], [0.5**k * (t - b)
                                   for t, b in zip(teacher, base)])
    approx = MBRNet.approximations(base, preds)
    assert _close(approx[-1], [t - 0.125 * (t - b)
                               for t, b in zip(teacher, base)])


def test_loss_values_match_the_formula():
    base, teacher = _levels(0), _levels(1)
    preds = [_levels(10 + k) for k in range(3)]
    net = MBRNet(8, 8, num_branches=3, branch_scales=[1.0, 0.3, 0.2],
                 feature_norm='none')
    losses = net.loss(base, preds, teacher)
    mimic = torch.stack([F.mse_loss(b, t)
                         for b, t in zip(base, teacher)]).mean()
    targets = MBRNet.residual_targets(base, preds, teacher)
    residual = sum(
        s * torch.stack([F.mse_loss(p, r) for p, r in zip(pred, tgt)]).mean()
        for s, pred, tgt in zip([1.0, 0.3, 0.2], preds, targets)) / 3
    assert losses['loss_mimic'].item() == pytest.approx(mimic.item(), 1e-6)
    assert losses['loss_residual'].item() == pytest.approx(
        residual.item(), 1e-6)


def test_residual_targets_are_detached():
    """loss_residual's gradient w.r.t. pred_k comes only from pred_k's own
    term; none reaches P(S) or earlier predictions through the targets."""
    num_branches = 3
    scales = [1.0, 0.5, 0.25]
    net = MBRNet(8, 8, num_branches=num_branches, branch_scales=scales,
                 feature_norm='none')
    base = [x.requires_grad_() for x in _levels(0)]
    teacher = _levels(1)
    preds = [[x.requires_grad_() for x in _levels(10 + k)]
             for k in range(num_branches)]
    loss = net.loss(base, preds, teacher)['loss_residual']
    flat_preds = [x for pred in preds for x in pred]
    grads = torch.autograd.grad(
        loss, base + flat_preds, allow_unused=True)
    # no path from loss_residual to P(S) (the targets are detached)
    for g in grads[:len(base)]:
        assert g is None or torch.count_nonzero(g) == 0
    # each branch: exactly the gradient of its own term, target constant
    targets = [[r.detach() for r in tgt]
               for tgt in MBRNet.residual_targets(base, preds, teacher)]
    for k in range(num_branches):
        own = scales[k] * torch.stack([
            F.mse_loss(p, r) for p, r in zip(preds[k], targets[k])
        ]).mean() / num_branches
        expected = torch.autograd.grad(own, preds[k])
        got = grads[len(base) + k * len(SHAPES):
                    len(base) + (k + 1) * len(SHAPES)]
        for g, e in zip(got, expected):
            assert torch.allclose(g, e, atol=1e-7)
    # the teacher is a constant too
    teacher_grad = [t.requires_grad_() for t in _levels(1)]
    loss = net.loss(base, preds, teacher_grad)
    assert all(g is None for g in torch.autograd.grad(
        loss['loss_mimic'] + loss['loss_residual'], teacher_grad,
        allow_unused=True))


@pytest.mark.parametrize('norm_cfg', [
    dict(type='GN', num_groups=32, requires_grad=True),
    dict(type='BN', requires_grad=True),
    None,
])
@pytest.mark.parametrize('channels', [(16, 16), (8, 16)])
def test_every_prediction_is_zero_at_init(norm_cfg, channels):
    torch.manual_seed(0)
    net = MBRNet(*channels, num_branches=3, norm_cfg=norm_cfg)
    net.init_weights()
    net.train()
    feats = _levels(2, channels=channels[0])
    base, preds = net(feats)
    assert len(preds) == 3
    for pred in preds:
        for p in pred:
            assert torch.equal(p, torch.zeros_like(p))
    for approx in MBRNet.approximations(base, preds):
        for m, b in zip(approx, base):
            assert torch.equal(m, b)  # M_k == P(S) for every k
    # ...but the branches are trainable from there: gradients are not zero
    loss = net.loss(base, preds, _levels(3, channels=channels[1]))
    loss['loss_residual'].backward()
    assert any(p.grad is not None and torch.count_nonzero(p.grad) > 0
               for p in net.branches.parameters())


def test_adapter_is_identity_when_channels_match():
    net = MBRNet(8, 8, num_branches=2)
    assert isinstance(net.adapter, nn.Identity)
    feats = _levels(0)
    base, _ = net(feats)
    for b, s in zip(base, feats):
        assert torch.equal(b, s)


@pytest.mark.parametrize('adapter', ['auto', 'conv'])
def test_adapter_is_a_1x1_conv_when_channels_differ(adapter):
    net = MBRNet(8, 12, num_branches=2, adapter=adapter)
    assert isinstance(net.adapter, nn.Conv2d)
    assert net.adapter.kernel_size == (1, 1)
    assert (net.adapter.in_channels, net.adapter.out_channels) == (8, 12)
    base, preds = net(_levels(0))
    for b, s in zip(base, SHAPES):
        assert b.shape == (s[0], 12) + s[2:]
    for pred in preds:
        for p, s in zip(pred, SHAPES):
            assert p.shape == (s[0], 12) + s[2:]


def test_adapter_conv_forces_a_conv_for_equal_channels():
    net = MBRNet(8, 8, num_branches=2, adapter='conv')
    assert isinstance(net.adapter, nn.Conv2d)
    assert net.adapter.kernel_size == (1, 1)


def test_weights_are_shared_across_levels():
    s_ch, t_ch, num_branches, num_blocks = 8, 16, 3, 2
    net = MBRNet(s_ch, t_ch, num_branches=num_branches,
                 num_blocks=num_blocks, bottleneck_ratio=None)
    net.init_weights()
    # perturb the zero-initialised last norms so outputs are not trivial
    for branch in net.branches:
        nn.init.normal_(branch[-1].norm.weight)
    count = sum(p.numel() for p in net.parameters())
    # adapter (1x1 conv + bias) + per branch: conv3x3 s->t, conv3x3 t->t
    # (no bias: a norm follows) and two GN affine pairs
    expected = (s_ch * t_ch + t_ch) + num_branches * (
        9 * s_ch * t_ch + 9 * t_ch * t_ch + 2 * 2 * t_ch)
    assert count == expected
    # the same parameters serve any number of levels...
    five = _levels(0, shapes=[(1, s_ch, 2**i, 2**i) for i in range(5, 0, -1)])
    net.eval()
    with torch.no_grad():
        base5, preds5 = net(five)
        base1, preds1 = net(five[2:3])
    assert sum(p.numel() for p in net.parameters()) == count
    assert len(base5) == 5 and all(len(p) == 5 for p in preds5)
    # ...and a level's output does not depend on the other levels
    assert torch.allclose(base5[2], base1[0])
    for p5, p1 in zip(preds5, preds1):
        assert torch.allclose(p5[2], p1[0])


def test_teacher_std_feature_norm_is_scale_invariant():
    base, teacher = _levels(0), _levels(1)
    preds = [_levels(10 + k) for k in range(2)]
    net = MBRNet(8, 8, num_branches=2)
    assert net.feature_norm == 'teacher_std'  # the default, as RKD, ResKD
    ref = net.loss(base, preds, teacher)
    for c in (0.01, 7.0):
        scaled = net.loss([c * b for b in base],
                          [[c * p for p in pred] for pred in preds],
                          [c * t for t in teacher])
        for key in ('loss_mimic', 'loss_residual'):
            assert scaled[key].item() == pytest.approx(ref[key].item(),
                                                       rel=1e-5)
    # scale-free per level: rescaling a single level changes nothing either
    factors = [1.0, 100.0, 0.1]
    per_level = net.loss([f * b for f, b in zip(factors, base)],
                         [[f * p for f, p in zip(factors, pred)]
                          for pred in preds],
                         [f * t for f, t in zip(factors, teacher)])
    for key in ('loss_mimic', 'loss_residual'):
        assert per_level[key].item() == pytest.approx(ref[key].item(),
                                                      rel=1e-5)
    # whereas the plain MSE scales with c**2 (the control)
    plain = MBRNet(8, 8, num_branches=2, feature_norm='none')
    a = plain.loss(base, preds, teacher)['loss_mimic']
    b = plain.loss([3 * x for x in base], [[3 * p for p in pred]
                                           for pred in preds],
                   [3 * t for t in teacher])['loss_mimic']
    assert b.item() == pytest.approx(9 * a.item(), rel=1e-5)


@pytest.mark.parametrize('kwargs, message', [
    (dict(num_branches=0), 'num_branches must be >= 1'),
    (dict(num_branches=-2), 'num_branches must be >= 1'),
    (dict(num_blocks=0), 'num_blocks must be >= 1'),
    (dict(num_branches=2, branch_scales=[1.0, -0.5]),
     'branch_scales must be >= 0'),
    (dict(num_branches=3, branch_scales=[1.0, 0.5]),
     '2 branch_scales for 3 branches'),
    (dict(adapter='linear'), 'adapter must be'),
    (dict(feature_norm='l2'), "unknown feature_norm 'l2'"),
    (dict(mimic_norm='teacher_std'), 'mimic_norm was renamed feature_norm'),
    (dict(bottleneck_channels=0), 'bottleneck_channels must be a positive'),
    (dict(bottleneck_channels=4, separable=True),
     'cannot be combined with a bottleneck'),
    (dict(bottleneck_ratio=0.25, separable=True),
     'set both to None for separable branches'),
    (dict(bottleneck_ratio=0), r'bottleneck_ratio must be in \(0, 1\]'),
    (dict(bottleneck_ratio=1.5), r'bottleneck_ratio must be in \(0, 1\]'),
])
def test_bad_arguments_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MBRNet(8, 8, **kwargs)


def test_adapter_none_with_channel_mismatch_names_both_counts():
    with pytest.raises(ValueError) as err:
        MBRNet(64, 96, adapter='none')
    msg = str(err.value)
    assert '64' in msg and '96' in msg and 'adapter' in msg
    MBRNet(64, 64, adapter='none')  # equal channels are fine


@pytest.mark.parametrize('channels', [(64, 64), (48, 64)])
def test_separable_branches_start_at_zero_and_are_lighter(channels):
    s_ch, t_ch = channels
    dense = MBRNet(s_ch, t_ch, bottleneck_ratio=None)
    light = MBRNet(s_ch, t_ch, separable=True, bottleneck_ratio=None)
    light.init_weights()
    n_dense = sum(p.numel() for p in dense.parameters())
    n_light = sum(p.numel() for p in light.parameters())
    assert n_light < n_dense / 4
    feats = [torch.rand(2, s_ch, 16, 16), torch.rand(2, s_ch, 8, 8)]
    base, preds = light(feats)
    assert all(torch.count_nonzero(p) == 0 for pred in preds for p in pred)
    teacher = [torch.rand(2, t_ch, 16, 16), torch.rand(2, t_ch, 8, 8)]
    losses = light.loss(base, preds, teacher)
    losses['loss_residual'].backward()
    # zero-started, yet every branch learns
    assert all(b[-1].pointwise_conv.norm.weight.grad.abs().sum() > 0
               for b in light.branches)


@pytest.mark.parametrize('channels', [(64, 64), (48, 96)])
def test_bottleneck_branches_start_at_zero_and_are_lighter(channels):
    s_ch, t_ch = channels
    dense = MBRNet(s_ch, t_ch, bottleneck_ratio=None)
    light = MBRNet(s_ch, t_ch, bottleneck_channels=24, num_blocks=1)
    light.init_weights()
    # 1x1 down to 24 (GN groups fitted to 24), one 3x3 at 24, 1x1 up
    branch = light.branches[0]
    assert [b.conv.kernel_size for b in branch] == [(1, 1), (3, 3), (1, 1)]
    assert [b.conv.out_channels for b in branch] == [24, 24, t_ch]
    assert branch[0].conv.in_channels == s_ch
    # GN keeps the full width's channels per group: 32 groups at t_ch
    assert branch[0].norm.num_groups == {64: 12, 96: 8}[t_ch]
    assert branch[-1].norm.num_groups == 32
    assert [b.with_activation for b in branch] == [True, True, False]
    n_dense = sum(p.numel() for p in dense.parameters())
    n_light = sum(p.numel() for p in light.parameters())
    assert n_light < n_dense / 4
    feats = [torch.rand(2, s_ch, 16, 16), torch.rand(2, s_ch, 8, 8)]
    base, preds = light(feats)
    assert [p.shape[1] for pred in preds for p in pred] == [t_ch] * 8
    assert all(torch.count_nonzero(p) == 0 for pred in preds for p in pred)
    teacher = [torch.rand(2, t_ch, 16, 16), torch.rand(2, t_ch, 8, 8)]
    light.loss(base, preds, teacher)['loss_residual'].backward()
    # zero-started, yet every branch learns
    assert all(b[-1].norm.weight.grad.abs().sum() > 0 for b in light.branches)


def test_bottleneck_keeps_the_full_width_state_dict_keys_of_its_blocks():
    """Bottleneck and full-width branches use the same block layout
    (``branches.<k>.<block>.{conv,norm}``), so checkpoints stay readable by
    the same code; only the shapes and the block count differ."""
    dense = MBRNet(8, 8, num_blocks=2, bottleneck_ratio=None)
    light = MBRNet(8, 8, num_blocks=2, bottleneck_channels=4)
    assert set(dense.state_dict()) < set(light.state_dict())
    assert 'branches.0.3.conv.weight' in light.state_dict()


def test_bottleneck_ratio_sizes_each_width_group_from_its_teacher_width():
    """A YOLO-style neck (per-level widths): a quarter of each group's
    teacher width, rounded, at least one channel."""
    net = MBRNet([32, 64, 128], [64, 128, 6], num_blocks=1,
                 bottleneck_ratio=0.25)
    widths = [g.branches[0][0].conv.out_channels for g in net.groups]
    assert widths == [16, 32, 2]
    assert [g.branches[0][-1].conv.out_channels
            for g in net.groups] == [64, 128, 6]
    tiny = MBRNet(8, 2, num_blocks=1, bottleneck_ratio=0.25)
    assert tiny.branches[0][0].conv.out_channels == 1


def test_the_default_branches_are_quarter_width_bottlenecks():
    """ERA's cheap setting is MBRNet's default: one 3x3 block at a quarter
    of the teacher's width between two 1x1 convs; full ERA's branches are
    two full-width 3x3 blocks."""
    branch = MBRNet(32, 64).branches[0]
    assert [b.conv.kernel_size for b in branch] == [(1, 1), (3, 3), (1, 1)]
    assert [b.conv.out_channels for b in branch] == [16, 16, 64]
    full = MBRNet(32, 64, num_blocks=2, bottleneck_ratio=None).branches[0]
    assert [b.conv.kernel_size for b in full] == [(3, 3), (3, 3)]
    assert [b.conv.out_channels for b in full] == [64, 64]


def test_bottleneck_channels_win_over_the_ratio():
    net = MBRNet(64, 64, num_blocks=1, bottleneck_channels=24,
                 bottleneck_ratio=0.25)
    assert net.branches[0][0].conv.out_channels == 24


def test_a_ratio_builds_the_same_branches_as_its_width():
    """bottleneck_ratio=0.25 on a 64-channel teacher is
    bottleneck_channels=16: the same modules, the same forward."""
    torch.manual_seed(0)
    by_width = MBRNet(32, 64, num_blocks=1, bottleneck_channels=16)
    torch.manual_seed(0)
    by_ratio = MBRNet(32, 64, num_blocks=1, bottleneck_ratio=0.25)
    assert by_width.state_dict().keys() == by_ratio.state_dict().keys()
    by_ratio.load_state_dict(by_width.state_dict())
    feats = [torch.rand(1, 32, 8, 8)]
    for a, b in zip(by_width(feats)[1], by_ratio(feats)[1]):
        assert torch.equal(a[0], b[0])


# -- the residual norms logged every training step ---------------------------
def _rel_norm(teacher, approx):
    """||T - M|| / ||T|| over the whole batch, written out by hand."""
    return (((teacher - approx)**2).sum().sqrt() /
            (teacher**2).sum().sqrt()).item()


def _residual_keys(num_branches, num_levels):
    return {f'residual_k{k}_p{lvl}' for k in range(num_branches + 1)
            for lvl in range(num_levels)}


def test_loss_logs_a_residual_norm_per_approximation_and_level():
    base, teacher = _levels(0), _levels(1)
    preds = [_levels(10 + k) for k in range(3)]
    net = MBRNet(8, 8, num_branches=3)
    losses = net.loss(base, preds, teacher)
    assert set(losses) == {'loss_mimic', 'loss_residual'} | _residual_keys(
        3, len(SHAPES))
    # logged, never summed into the total loss by mmengine ('loss' in key)
    assert not any('loss' in k for k in _residual_keys(3, len(SHAPES)))
    approx = MBRNet.approximations(base, preds)
    for k in range(4):
        for lvl in range(len(SHAPES)):
            value = losses[f'residual_k{k}_p{lvl}']
            assert value.dim() == 0 and value.dtype == torch.float32
            assert value.item() == pytest.approx(
                _rel_norm(teacher[lvl], approx[k][lvl]), rel=1e-5)
    # k = 0 is the mimic's residual: ||T - P(S)|| / ||T||
    assert losses['residual_k0_p1'].item() == pytest.approx(
        _rel_norm(teacher[1], base[1]), rel=1e-6)


def test_residual_norms_are_constants_of_the_graph():
    base = [x.requires_grad_() for x in _levels(0)]
    teacher = [x.requires_grad_() for x in _levels(1)]
    preds = [[x.requires_grad_() for x in _levels(10 + k)] for k in range(2)]
    losses = MBRNet(8, 8, num_branches=2).loss(base, preds, teacher)
    for key in _residual_keys(2, len(SHAPES)):
        assert not losses[key].requires_grad, key
    # the losses themselves still train
    assert losses['loss_mimic'].requires_grad
    assert losses['loss_residual'].requires_grad


def test_perfect_and_halving_branches_give_the_expected_norms():
    base, teacher = _levels(0), _levels(1)
    preds = []
    for _ in range(3):
        targets = MBRNet.residual_targets(base, preds + [None], teacher)
        preds.append([0.5 * r for r in targets[-1]])
    norms = MBRNet.residual_norms(base, preds, teacher)
    # each halving branch leaves half of what was left
    for k in range(1, 4):
        for lvl in range(len(SHAPES)):
            assert norms[f'residual_k{k}_p{lvl}'].item() == pytest.approx(
                0.5**k * norms[f'residual_k0_p{lvl}'].item(), rel=1e-5)
    # M_0 == T: nothing left anywhere
    exact = MBRNet.residual_norms(teacher, preds[:1], teacher)
    assert exact['residual_k0_p0'].item() == 0.0


def test_fitting_shrinks_the_residual_from_k0_to_kK():
    """A real optimisation of MBRNet's two losses to a fixed teacher: the
    branches learn (part of) the residual, so ``M_K`` ends nearer ``T``
    than ``M_0`` on every level (at init they are equal)."""
    torch.manual_seed(0)
    net = MBRNet(8, 8, num_branches=2, num_blocks=1,
                 bottleneck_ratio=None)
    net.init_weights()
    net.train()
    student, teacher = _levels(20), _levels(21)
    first = net.loss(*net(student), teacher)
    for lvl in range(len(SHAPES)):
        assert first[f'residual_k2_p{lvl}'] == first[f'residual_k0_p{lvl}']
    optim = torch.optim.Adam(net.parameters(), lr=0.01)
    for _ in range(30):
        losses = net.loss(*net(student), teacher)
        optim.zero_grad()
        (losses['loss_mimic'] + losses['loss_residual']).backward()
        optim.step()
    net.eval()
    with torch.no_grad():
        last = net.loss(*net(student), teacher)
    for lvl in range(len(SHAPES)):
        k0 = last[f'residual_k0_p{lvl}'].item()
        assert last[f'residual_k2_p{lvl}'].item() < 0.95 * k0
        assert last[f'residual_k2_p{lvl}'].item() < last[
            f'residual_k1_p{lvl}'].item() < k0


class _MBRNetModel(BaseModel):
    """The smallest mmengine model around MBRNet: its ``loss`` dict is what
    ``train_step`` parses and returns as the log vars."""

    def __init__(self):
        super().__init__()
        self.net = MBRNet(8, 8, num_branches=2)
        self.net.init_weights()

    def forward(self, inputs, teacher, mode='loss'):
        return self.net.loss(*self.net(inputs), teacher)


def test_parse_losses_sums_only_the_loss_terms():
    model = _MBRNetModel()
    losses = model(_levels(0), _levels(1))
    total, log_vars = model.parse_losses(losses)
    expected = losses['loss_mimic'] + losses['loss_residual']
    assert total.item() == pytest.approx(expected.item(), rel=1e-6)
    # the norms are logged, as they are (every key survives parsing)
    for key in _residual_keys(2, len(SHAPES)):
        assert torch.equal(log_vars[key], losses[key])
    assert log_vars['loss'].item() == pytest.approx(expected.item(), rel=1e-6)
    # and a training step returns them to the runner's log
    optim_wrapper = build_optim_wrapper(
        model, dict(optimizer=dict(type='SGD', lr=0.01)))
    out = model.train_step(dict(inputs=_levels(0), teacher=_levels(1)),
                           optim_wrapper)
    assert _residual_keys(2, len(SHAPES)) <= set(out)


def test_era_distiller_logs_the_norms_and_keeps_its_total_loss(
        student_cfg, teacher_cfg, teacher_ckpt, batch):
    """ERADistiller merges the norms as ``era.residual_k*_p*``; the total
    loss is the sum of the ``loss`` terms alone, as before."""
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='ERADistiller', student=copy.deepcopy(student_cfg),
        teacher_config=copy.deepcopy(teacher_cfg), teacher_ckpt=teacher_ckpt,
        mbrnet=dict(num_branches=2)))
    model.init_weights()
    model.train()
    losses = model.loss(*batch)
    levels = len(model.pairing.select_student(
        model.student.extract_feat(batch[0])))
    keys = {f'era.{k}' for k in _residual_keys(2, levels)}
    assert keys <= set(losses)
    total, log_vars = model.parse_losses(losses)
    by_hand = sum(sum(v) if isinstance(v, list) else v
                  for k, v in losses.items() if k.split('.')[-1].startswith(
                      'loss'))
    assert total.item() == pytest.approx(by_hand.item(), rel=1e-6)
    # unchanged: the same total without the norms
    without, _ = model.parse_losses(
        {k: v for k, v in losses.items() if k not in keys})
    assert torch.equal(total, without)
    assert keys <= set(log_vars)
    # zero-initialised branches: every approximation is still P(S)
    for lvl in range(levels):
        assert losses[f'era.residual_k2_p{lvl}'].item() == pytest.approx(
            losses[f'era.residual_k0_p{lvl}'].item())
