"""RKDDistiller and ResidualSplitFPN on real mmdet models: the split's
arithmetic (S + A is the plain FPN), its cost (same parameters and FLOPs),
where each loss's gradient goes, the frozen teacher and the error messages."""
import copy

import pytest
import torch
import torch.nn.functional as F
from mmdet.models.necks import FPN
from mmdet.registry import MODELS
from mmengine.analysis import FlopAnalyzer
from mmengine.optim import build_optim_wrapper
from torch import nn

from mmera.models.rkd.residual_split_fpn import ResidualSplitFPN
from mmera.models.rkd.rkd_distiller import RKDDistiller


def _build(student_cfg, teacher_cfg, teacher_ckpt=None, init=True, **kwargs):
    model = MODELS.build(
        dict(type='RKDDistiller', student=copy.deepcopy(student_cfg),
             teacher_config=copy.deepcopy(teacher_cfg),
             teacher_ckpt=teacher_ckpt, **kwargs))
    assert isinstance(model, RKDDistiller)
    if init:
        model.init_weights()
    return model


@pytest.fixture
def model(student_cfg, teacher_cfg, teacher_ckpt):
    torch.manual_seed(0)
    return _build(student_cfg, teacher_cfg, teacher_ckpt)


def _small_fpn(**kwargs):
    """A small mmdet FPN (3 inputs of 4/6/8 channels, 6 out, 5 levels)."""
    cfg = dict(in_channels=[4, 6, 8], out_channels=6, num_outs=5)
    cfg.update(kwargs)
    fpn = FPN(**cfg)
    fpn.init_weights()
    with torch.no_grad():  # mmdet inits biases at 0: make them visible
        for module in fpn.fpn_convs:
            module.conv.bias.normal_()
    return fpn


def _small_inputs(seed=0):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(2, c, s, s, generator=gen)
            for c, s in ((4, 32), (6, 16), (8, 8))]


def _close(a, b, atol=1e-5):
    return a.shape == b.shape and torch.allclose(a, b, atol=atol)


# -- the split's arithmetic ---------------------------------------------------
@pytest.mark.parametrize('ratio', [0.5, 0.25, 1 / 3])
def test_split_conv_is_the_two_masked_halves_of_the_plain_conv(ratio):
    fpn = _small_fpn()
    split = ResidualSplitFPN(fpn, split_ratio=ratio)
    h = round(ratio * 6)
    assert split.split_index[0] == h
    x = torch.randn(2, 6, 9, 9)
    conv = fpn.fpn_convs[0].conv
    s, a = split.split_conv(0, x)
    student_only, assistant_only = x.clone(), x.clone()
    student_only[:, h:] = 0
    assistant_only[:, :h] = 0
    # S: the first h input channels and the bias; A: the rest, no bias
    assert _close(s, F.conv2d(student_only, conv.weight, conv.bias, padding=1))
    assert _close(a, F.conv2d(assistant_only, conv.weight, None, padding=1))
    assert _close(s + a, fpn.fpn_convs[0](x))


@pytest.mark.parametrize('extra,relu', [(False, False), ('on_input', False),
                                        ('on_input', True),
                                        ('on_lateral', True),
                                        ('on_output', False),
                                        ('on_output', True)])
@pytest.mark.parametrize('ratio', [0.5, 0.25])
def test_split_fpn_sums_to_the_mmdet_fpn_on_every_level(extra, relu, ratio):
    torch.manual_seed(0)
    fpn = _small_fpn(add_extra_convs=extra, relu_before_extra_convs=relu)
    inputs = _small_inputs()
    s_feats, a_feats = ResidualSplitFPN(fpn, ratio)(inputs)
    plain = fpn(inputs)
    assert len(s_feats) == len(a_feats) == len(plain) == 5
    for s, a, p in zip(s_feats, a_feats, plain):
        assert _close(s + a, p)
    # S and A are real parts, not (p, 0): both carry signal on every level
    assert all(s.abs().sum() > 0 and a.abs().sum() > 0
               for s, a in zip(s_feats, a_feats))


def test_split_features_equal_the_student_neck(model, batch):
    inputs, _ = batch
    s_feats, a_feats = model.split_features(inputs)
    plain = model.student.neck(model.student.backbone(inputs))
    assert len(s_feats) == len(plain) == 5
    for s, a, p in zip(s_feats, a_feats, plain):
        assert _close(s + a, p)
        assert not _close(s, p, atol=1e-3)  # S alone is a different map
    # the split is a view of the student's neck: training it trains the neck
    assert model.split_neck.fpn is model.student.neck
    clone = copy.deepcopy(model)  # e.g. mmengine's EMA copies the model
    assert clone.split_neck.fpn is clone.student.neck


def test_teacher_may_predict_other_classes(student_cfg, teacher_cfg, batch):
    # RKD distils features only: the heads need not match
    teacher_cfg.bbox_head.num_classes = 3
    model = _build(student_cfg, teacher_cfg, init=False)
    model.teacher_loaded = True  # random teacher weights are enough here
    losses = model.loss(*batch)
    assert torch.isfinite(losses['rkd.loss_mimic'])


def test_split_ratio_sets_each_conv_split_index(student_cfg, teacher_cfg,
                                                batch):
    model = _build(student_cfg, teacher_cfg, init=False, split_ratio=0.25)
    # 64-channel outputs, the P6 conv reads the 128-channel C5 ('on_input')
    assert model.split_neck.split_index == [16, 16, 16, 32, 16]
    s_feats, a_feats = model.split_features(batch[0])
    plain = model.student.extract_feat(batch[0])
    assert all(_close(s + a, p) for s, a, p in zip(s_feats, a_feats, plain))


# -- the cost: the plain student's parameters and FLOPs -----------------------
class _SplitNeckSum(nn.Module):
    """The split FPN forward as one module, for FlopAnalyzer."""

    def __init__(self, split):
        super().__init__()
        self.split = split

    def forward(self, feats):
        s_feats, a_feats = self.split(feats)
        return tuple(s + a for s, a in zip(s_feats, a_feats))


def _flops(module, inputs):
    analyzer = FlopAnalyzer(module, inputs)
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    return analyzer.by_operator()


def test_split_costs_what_the_plain_student_costs(model, student_cfg, batch):
    feats = tuple(model.student.backbone(batch[0][:1]))
    plain_flops = _flops(model.student.neck, (feats, ))
    split_flops = _flops(_SplitNeckSum(model.split_neck), (feats, ))
    assert plain_flops['conv'] > 0
    assert split_flops == plain_flops  # per operator: conv, upsample
    # the training-time student and the deployed one are the plain student
    plain = MODELS.build(copy.deepcopy(student_cfg))
    numel = sum(p.numel() for p in plain.parameters())
    assert sum(p.numel() for p in model.parameters()) == numel
    assert {k.split('.')[0] for k in model.state_dict()} == {'student'}
    assert model.state_dict().keys() == {
        f'student.{k}' for k in plain.state_dict()}


# -- losses and their gradients -----------------------------------------------
def test_rkd_losses_arithmetic(model):
    gen = torch.Generator().manual_seed(0)
    s = [torch.randn(1, 64, 4, 4, generator=gen) for _ in range(2)]
    a = [torch.randn(1, 64, 4, 4, generator=gen) for _ in range(2)]
    t = [3 * torch.randn(1, 64, 4, 4, generator=gen) for _ in range(2)]
    model.mimic_weight, model.residual_weight = 2.0, 0.5
    for norm in ('none', 'teacher_std'):
        model.feature_norm = norm
        losses = model.rkd_losses(s, a, t)
        n = [t_.var() if norm == 'teacher_std' else 1.0 for t_ in t]
        mimic = sum(((s_ - t_)**2).mean() / n_
                    for s_, t_, n_ in zip(s, t, n)) / 2
        residual = sum(((a_ - (t_ - s_))**2).mean() / n_
                       for s_, a_, t_, n_ in zip(s, a, t, n)) / 2
        assert torch.allclose(losses['loss_mimic'], 2.0 * mimic)
        assert torch.allclose(losses['loss_residual'], 0.5 * residual)


def _grads(loss, params):
    return torch.autograd.grad(loss, params, retain_graph=True,
                               allow_unused=True)


def test_mimic_trains_the_student_half_residual_the_assistant_half(
        model, batch):
    inputs, _ = batch
    model.train()
    s_feats, a_feats = model.split_features(inputs)
    losses = model.rkd_losses(s_feats, a_feats, model.teacher_features(inputs))
    convs = [m.conv for m in model.student.neck.fpn_convs]
    split = model.split_neck.split_index
    weights, biases = [c.weight for c in convs], [c.bias for c in convs]
    # (not a block conv: mmdet zero-inits the blocks' last BN, so those get
    # no gradient at the first step)
    trunk = model.student.backbone.layer4[0].downsample[0].weight
    params = weights + biases + [trunk]

    mimic = _grads(losses['loss_mimic'], params)
    residual = _grads(losses['loss_residual'], params)
    # P3-P5 (fed by the laterals): each loss reaches only its own half
    for i in range(3):
        h = split[i]
        assert mimic[i][:, :h].abs().sum() > 0
        assert torch.count_nonzero(mimic[i][:, h:]) == 0
        assert mimic[len(convs) + i].abs().sum() > 0  # the bias is S's
        assert residual[i][:, h:].abs().sum() > 0
        assert torch.count_nonzero(residual[i][:, :h]) == 0
        assert residual[len(convs) + i] is None or torch.count_nonzero(
            residual[len(convs) + i]) == 0
    # P7's conv reads relu(S6 + A6), the plain FPN's input: through P7 each
    # loss also reaches the other half of P6's conv
    assert residual[3][:, :split[3]].abs().sum() > 0
    assert mimic[3][:, split[3]:].abs().sum() > 0
    # both losses train the shared trunk
    assert mimic[-1].abs().sum() > 0 and residual[-1].abs().sum() > 0


def test_adapter_is_linear_and_learns_from_both_losses(student_cfg,
                                                       teacher_cfg,
                                                       teacher_ckpt, batch):
    torch.manual_seed(0)
    model = _build(student_cfg, teacher_cfg, teacher_ckpt, adapter='conv')
    convs = model.adapter.convs
    assert convs is not None and all(c.bias is None for c in convs)
    assert 'adapter' in {k.split('.')[0] for k in model.state_dict()}
    inputs, _ = batch
    s_feats, a_feats = model.split_features(inputs)
    summed = model.adapter([s + a for s, a in zip(s_feats, a_feats)])
    for ps, pa, p in zip(model.adapter(s_feats), model.adapter(a_feats),
                         summed):
        assert _close(ps + pa, p)
    losses = model.rkd_losses(s_feats, a_feats, model.teacher_features(inputs))
    for name in ('loss_mimic', 'loss_residual'):
        grad, = _grads(losses[name], [convs[0].weight])
        assert grad.abs().sum() > 0, name


def test_train_step_trains_the_student_and_leaves_the_teacher(model, batch):
    _, samples = batch
    gen = torch.Generator().manual_seed(0)
    images = [torch.randint(0, 256, (3, 128, 128), generator=gen,
                            dtype=torch.uint8) for _ in samples]
    teacher_before = {
        k: v.clone() for k, v in model.teacher.state_dict().items()}
    student_before = {
        k: v.clone() for k, v in model.student.state_dict().items()}
    optim = build_optim_wrapper(
        model, dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9)))
    optim_ids = {id(p) for g in optim.optimizer.param_groups
                 for p in g['params']}
    assert not optim_ids & {id(p) for p in model.teacher.parameters()}
    model.train()
    assert not model.teacher.training
    log_vars = model.train_step(
        dict(inputs=images, data_samples=samples), optim)
    for key in ('loss_cls', 'loss_bbox', 'rkd.loss_mimic',
                'rkd.loss_residual'):
        assert torch.isfinite(log_vars[key]), key
    for key, value in model.teacher.state_dict().items():
        assert torch.equal(value, teacher_before[key]), key
    assert not model.teacher.training
    assert all(p.grad is None for p in model.teacher.parameters())
    changed = {k for k, v in model.student.state_dict().items()
               if not torch.equal(v, student_before[k])}
    assert {'neck.fpn_convs.0.conv.weight', 'neck.fpn_convs.0.conv.bias',
            'neck.lateral_convs.0.conv.weight',
            'bbox_head.retina_cls.weight'} <= changed
    assert any('running_mean' in k for k in changed)


def test_predict_is_the_plain_student(model, student_cfg, make_batch):
    inputs, samples = make_batch(num_images=1, seed=3)
    stock = MODELS.build(copy.deepcopy(student_cfg))
    stock.load_state_dict(
        {k[len('student.'):]: v for k, v in model.state_dict().items()},
        strict=True)
    model.eval()
    stock.eval()
    with torch.no_grad():
        ours = model.predict(inputs, copy.deepcopy(samples))
        theirs = stock.predict(inputs, copy.deepcopy(samples))
    a, b = ours[0].pred_instances, theirs[0].pred_instances
    assert len(a) > 0
    assert torch.equal(a.bboxes, b.bboxes) and torch.equal(a.scores, b.scores)


# -- errors -------------------------------------------------------------------
@pytest.mark.parametrize('neck_update,message', [
    (dict(type='PAFPN'), 'the student neck is PAFPN'),
    (dict(norm_cfg=dict(type='BN')), 'set norm_cfg=None and act_cfg=None'),
    (dict(act_cfg=dict(type='ReLU')), 'has a norm or an activation'),
])
def test_errors_for_necks_the_split_cannot_express(student_cfg, teacher_cfg,
                                                   neck_update, message):
    student_cfg.neck.update(neck_update)
    with pytest.raises(ValueError, match='RKDDistiller: ResidualSplitFPN'
                       ) as err:
        _build(student_cfg, teacher_cfg, init=False)
    assert message in str(err.value)


@pytest.mark.parametrize('kwargs,message', [
    (dict(split_ratio=1.0), r'split_ratio must be in \(0, 1\)'),
    (dict(split_ratio=0.001), 'leaves one half of its 64 input channels'),
    (dict(mimic_weight=-1.0), 'mimic_weight must be >= 0'),
    (dict(mimic_weight=float('nan')), 'mimic_weight must be >= 0'),
    (dict(residual_weight=-0.1), 'residual_weight must be >= 0'),
    (dict(feature_norm='l2'), "unknown feature_norm 'l2'"),
    (dict(mimic_norm='none'), 'mimic_norm was renamed feature_norm'),
    (dict(adapter='mlp'), "unknown adapter 'mlp'"),
    (dict(teacher_config=None), 'RKDDistiller needs a teacher'),
])
def test_errors_for_bad_settings(student_cfg, teacher_cfg, kwargs, message):
    with pytest.raises(ValueError, match=message):
        _build(student_cfg, kwargs.pop('teacher_config', teacher_cfg),
               init=False, **kwargs)


def test_errors_for_mismatched_features(student_cfg, teacher_cfg, batch):
    small = _small_fpn()
    with pytest.raises(ValueError, match='got 2 backbone features, the FPN '
                       'expects 3'):
        ResidualSplitFPN(small)(_small_inputs()[:2])
    teacher_cfg.neck.update(start_level=0, in_channels=[32, 64, 128, 256])
    with pytest.raises(ValueError, match=r'RKDDistiller combines every level '
                       r'.*\[8, 16, 32, 64, 128\].*\[4, 8, 16, 32, 64\]'):
        _build(student_cfg, teacher_cfg, init=False)
