"""ERADistiller on the real tiny RetinaNet pair: frozen teacher, TWI,
inference modes, checkpoints and error messages."""
import copy
import math

import pytest
import torch
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmengine.optim import build_optim_wrapper
from mmengine.runner import load_checkpoint

from mmera.models import ERADistiller, MBRNet

NUM_CLASSES = 5


#: full ERA, which these tests check against the teacher head's own losses
#: (every approximation scored, in float32); the defaults are its cheap
#: setting (test_the_defaults_are_the_cheap_setting)
FULL_ERA = dict(twi_mode='all', twi_precision='fp32',
                mbrnet=dict(num_blocks=2, bottleneck_ratio=None))


def _build(student_cfg, teacher_cfg, teacher_ckpt=None, init=True,
           full=True, **kwargs):
    if full:
        kwargs = {**FULL_ERA, **kwargs,
                  'mbrnet': {**FULL_ERA['mbrnet'],
                             **(kwargs.get('mbrnet') or {})}}
    model = MODELS.build(
        dict(
            type='ERADistiller',
            student=copy.deepcopy(student_cfg),
            teacher_config=copy.deepcopy(teacher_cfg),
            teacher_ckpt=teacher_ckpt,
            **kwargs))
    assert isinstance(model, ERADistiller)
    if init:
        model.init_weights()
    return model


def _perturb_mbrnet(model, seed=0):
    """Moves the zero-initialised branches off zero so M_0..M_K differ."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for branch in model.mbrnet.branches:
            last = branch[-1].norm
            last.weight.copy_(torch.randn(last.weight.shape, generator=gen))
            last.bias.copy_(0.1 * torch.randn(last.bias.shape, generator=gen))


def _total(value):
    return sum(value) if isinstance(value, (list, tuple)) else value


def _sum_loss_dict(losses):
    return sum(_total(v) for k, v in losses.items() if 'loss' in k)


def _same_predictions(a, b, exact=True):
    for x, y in zip(a, b):
        for key in ('bboxes', 'scores', 'labels'):
            u, v = x.pred_instances[key], y.pred_instances[key]
            if exact:
                assert torch.equal(u, v), key
            else:
                assert u.shape == v.shape and torch.allclose(u, v,
                                                             atol=1e-6), key


def _differ(a, b):
    for x, y in zip(a, b):
        u, v = x.pred_instances.scores, y.pred_instances.scores
        if u.shape != v.shape or not torch.allclose(u, v):
            return True
    return False


class _Exploding:
    """Stands in for the teacher: any use of it fails the test."""

    def __getattr__(self, name):
        raise AssertionError(f'the teacher was used at predict time '
                             f'(.{name})')

    def __call__(self, *args, **kwargs):
        raise AssertionError('the teacher was called at predict time')


@pytest.fixture
def model(student_cfg, teacher_cfg, teacher_ckpt):
    torch.manual_seed(0)
    return _build(student_cfg, teacher_cfg, teacher_ckpt)


# -- the frozen teacher -------------------------------------------------------
def test_teacher_is_frozen_and_outside_the_module_tree(model):
    teacher_params = list(model.teacher.parameters())
    assert teacher_params
    assert not any(p.requires_grad for p in teacher_params)
    teacher_ids = {id(p) for p in teacher_params}
    teacher_ptrs = {t.data_ptr() for t in model.teacher.state_dict().values()}
    assert not teacher_ids & {id(p) for p in model.parameters()}
    assert not teacher_ptrs & {p.data_ptr() for p in model.parameters()}
    assert 'teacher' not in dict(model.named_children())
    prefixes = {k.split('.')[0] for k in model.state_dict()}
    assert prefixes == {'student', 'mbrnet', 'twi'}
    assert not teacher_ptrs & {
        t.data_ptr() for t in model.state_dict().values()}
    # the TWI head is a frozen copy, not the teacher's own tensors
    assert not any(p.requires_grad for p in model.twi.parameters())


def test_teacher_is_untouched_by_a_training_step(model, batch):
    inputs, samples = batch
    before = {k: v.clone() for k, v in model.teacher.state_dict().items()}
    twi_before = {k: v.clone() for k, v in model.twi.state_dict().items()}
    student_before = {
        k: v.clone() for k, v in model.student.state_dict().items()}
    assert any('running_mean' in k for k in before)

    model.train()
    assert model.student.training and model.mbrnet.training
    assert not model.teacher.training
    assert not any(m.training for m in model.teacher.modules())
    # the TWI head runs its training-mode forward with frozen BN statistics
    assert model.twi.head.training
    assert not any(m.training for m in model.twi.head.modules()
                   if isinstance(m, torch.nn.modules.batchnorm._BatchNorm))

    optim_wrapper = build_optim_wrapper(
        model, dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9)))
    optim_params = [
        p for group in optim_wrapper.optimizer.param_groups
        for p in group['params']
    ]
    teacher_tensors = list(model.teacher.state_dict().values())
    assert not {id(p) for p in optim_params} & {
        id(t) for t in teacher_tensors}
    assert not {p.data_ptr() for p in optim_params} & {
        t.data_ptr() for t in teacher_tensors}
    trainable = [p for p in optim_params if p.requires_grad]
    assert trainable

    losses = model.loss(inputs, samples)
    assert {'loss_cls', 'loss_bbox', 'era.loss_mimic', 'era.loss_residual',
            'era.loss_twi'} <= set(losses)
    loss = _sum_loss_dict(losses)
    assert torch.isfinite(loss)
    optim_wrapper.update_params(loss)  # backward + step + zero_grad

    # the teacher (weights and BN statistics) and the TWI head are unchanged
    for key, value in model.teacher.state_dict().items():
        assert torch.equal(value, before[key]), key
    for key, value in model.twi.state_dict().items():
        assert torch.equal(value, twi_before[key]), key
    assert not any(p.grad is not None for p in model.teacher.parameters())
    assert not model.teacher.training
    # while the student did train (weights and its BN statistics)
    changed = [k for k, v in model.student.state_dict().items()
               if not torch.equal(v, student_before[k])]
    assert any('running_mean' in k for k in changed)
    assert any(k.endswith('weight') for k in changed)


def test_teacher_features_carry_no_graph(model, batch):
    feats = model.teacher_features(batch[0])
    assert len(feats) == 5
    assert not any(f.requires_grad for f in feats)


# -- TWI ----------------------------------------------------------------------
def test_twi_head_equals_the_teacher_head_after_init(model, teacher_ckpt):
    twi = model.twi.head.state_dict()
    teacher = model.teacher.bbox_head.state_dict()
    assert twi.keys() == teacher.keys()
    for key in twi:
        assert torch.equal(twi[key], teacher[key]), key
    ckpt = torch.load(teacher_ckpt, map_location='cpu')['state_dict']
    for key in twi:
        assert torch.equal(twi[key], ckpt['bbox_head.' + key]), key
    # a copy: distinct storage from the teacher's head
    assert model.twi.head is not model.teacher.bbox_head
    assert not {t.data_ptr() for t in twi.values()} & {
        t.data_ptr() for t in teacher.values()}


def test_twi_gradients_reach_the_student_through_the_frozen_head(
        model, batch):
    model.train()
    losses = model.loss(*batch)
    losses['era.loss_twi'].backward()

    def nonzero(params):
        return any(p.grad is not None and torch.count_nonzero(p.grad) > 0
                   for p in params)

    assert nonzero(model.student.backbone.parameters())
    assert nonzero(model.student.neck.parameters())
    assert nonzero(model.mbrnet.parameters())
    # TWI does not go through the student's own head
    assert all(p.grad is None for p in model.student.bbox_head.parameters())
    for p in model.twi.head.parameters():
        assert not p.requires_grad and p.grad is None
    assert all(p.grad is None for p in model.teacher.parameters())


@pytest.mark.parametrize('detach', [False, True])
def test_twi_detach_branches_keeps_twi_out_of_the_branches(
        student_cfg, teacher_cfg, teacher_ckpt, batch, detach):
    """``twi_detach_branches``: TWI's gradient reaches the student through
    P(S) alone; the branches get none of it (ERA as published: they do)."""
    torch.manual_seed(0)
    model = _build(student_cfg, teacher_cfg, teacher_ckpt,
                   twi_detach_branches=detach)
    _perturb_mbrnet(model)  # branches that predict something
    model.train()
    model.loss(*batch)['era.loss_twi'].backward()

    def nonzero(params):
        return any(p.grad is not None and torch.count_nonzero(p.grad) > 0
                   for p in params)

    assert nonzero(model.student.backbone.parameters())
    assert nonzero(model.mbrnet.branches.parameters()) is not detach
    # the residual loss still trains the branches
    model.zero_grad()
    model.loss(*batch)['era.loss_residual'].backward()
    assert nonzero(model.mbrnet.branches.parameters())


def _approximations(model, inputs):
    feats = list(model.student.extract_feat(inputs))
    base, preds = model.mbrnet(feats)
    return MBRNet.approximations(base, preds)


def _plain_twi_loss(model, approx, weights, samples):
    """mmdet's own loss, one approximation at a time (assigns K+1 times)."""
    gts = [s.gt_instances for s in samples]
    metas = [s.metainfo for s in samples]
    head = model.twi.head
    total = 0.
    for approx_k, weight in zip(approx, weights):
        cls, box = head(approx_k)
        losses = head.loss_by_feat(cls, box, gts, metas)
        total = total + weight * sum(_total(v) for v in losses.values())
    return total


def test_batched_twi_loss_equals_mmdet_per_approximation_loss(
        model, batch):
    """Target reuse + weight folding == sum_k w_k * head.loss_by_feat(M_k)."""
    inputs, samples = batch
    _perturb_mbrnet(model)
    model.eval()
    with torch.no_grad():
        approx = _approximations(model, inputs)
    assert len(approx) == 5
    assert not torch.allclose(approx[0][0], approx[-1][0])  # not trivial
    # leaves, to compare gradients too
    approx = [[m.clone().requires_grad_() for m in levels]
              for levels in approx]
    flat = [m for levels in approx for m in levels]
    weights = model.twi_weights
    assert weights == pytest.approx([1.0, 0.25, 0.125, 0.0625, 0.03125])

    batched = model.twi.loss(approx, weights, samples)
    plain = _plain_twi_loss(model, approx, weights, samples)
    assert batched.item() == pytest.approx(plain.item(), rel=1e-5)
    grads_b = torch.autograd.grad(batched, flat)
    grads_p = torch.autograd.grad(plain, flat)
    for gb, gp in zip(grads_b, grads_p):
        assert torch.allclose(gb, gp, rtol=1e-4, atol=1e-9)

    # arbitrary (uneven, some zero) weights fold in the same way
    weights = [0.0, 2.0, 0.3, 0.0, 1.7]
    assert model.twi.loss(approx, weights, samples).item() == pytest.approx(
        _plain_twi_loss(model, approx, weights, samples).item(), rel=1e-5)


def test_model_loss_twi_is_the_weighted_plain_loss(student_cfg, teacher_cfg,
                                                   teacher_ckpt, batch):
    torch.manual_seed(0)
    model = _build(student_cfg, teacher_cfg, teacher_ckpt, twi_weight=0.7,
                   twi_weights=[0.5, 0.4, 0.3, 0.2, 0.1])
    _perturb_mbrnet(model)
    model.eval()  # BN statistics fixed: both passes see the same features
    inputs, samples = batch
    losses = model.loss(inputs, samples)
    with torch.no_grad():
        approx = _approximations(model, inputs)
        plain = _plain_twi_loss(model, approx, [0.5, 0.4, 0.3, 0.2, 0.1],
                                samples)
    assert losses['era.loss_twi'].item() == pytest.approx(
        0.7 * plain.item(), rel=1e-5)


def test_twi_recompute_gives_the_same_loss(student_cfg, teacher_cfg,
                                           teacher_ckpt, batch):
    """``twi_recompute=True`` reaches the TWI module and changes no number
    of the training step (the head passes are checkpointed, not changed)."""
    losses = {}
    for recompute in (False, True):
        torch.manual_seed(0)
        model = _build(student_cfg, teacher_cfg, teacher_ckpt,
                       twi_recompute=recompute)
        _perturb_mbrnet(model)
        assert model.twi.recompute is recompute
        model.eval().twi.train()  # fixed BN statistics, TWI's training path
        losses[recompute] = model.loss(*batch)['era.loss_twi']
    assert losses[True].item() == pytest.approx(losses[False].item(),
                                                rel=1e-6)


def test_k0_emulation_keeps_its_branch_at_zero(student_cfg, teacher_cfg,
                                               teacher_ckpt, batch):
    """configs/era/era-k0_*: TWI on P(S) alone, emulated with one branch
    that has no residual loss and TWI weight 0 on M_1. After AdamW steps
    with weight decay its prediction is still exactly 0, so M_1 = M_0."""
    torch.manual_seed(0)
    model = _build(student_cfg, teacher_cfg, teacher_ckpt,
                   mbrnet=dict(num_branches=1), residual_weight=0.0,
                   twi_weights=[1.0, 0.0])
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    optim = torch.optim.AdamW(params, lr=1e-2, weight_decay=0.05)
    inputs, samples = batch
    for _ in range(2):
        loss, _ = model.parse_losses(model.loss(inputs, samples))
        optim.zero_grad()
        loss.backward()
        optim.step()
    feats = model.pairing.select_student(
        list(model.student.extract_feat(inputs)))
    base, preds = model.mbrnet(feats)
    assert all(not p.any() for p in preds[0])
    assert all(torch.equal(m, b) for m, b in zip(
        MBRNet.approximations(base, preds)[1], base))


def test_twi_last_and_sampled_modes(student_cfg, teacher_cfg, teacher_ckpt,
                                    batch):
    inputs, samples = batch
    torch.manual_seed(0)
    model = _build(student_cfg, teacher_cfg, teacher_ckpt, twi_mode='last')
    _perturb_mbrnet(model)
    model.train()
    losses = model.loss(inputs, samples)
    assert torch.isfinite(losses['era.loss_twi'])
    losses['era.loss_twi'].backward()
    assert any(p.grad is not None and torch.count_nonzero(p.grad) > 0
               for p in model.student.backbone.parameters())

    # selection: 'last' scores M_K with the summed weight
    model.eval()
    with torch.no_grad():
        approx = _approximations(model, inputs)
    weights = model.twi_weights
    num = len(approx)
    sel, w = model._twi_selection(approx)
    assert sel == [approx[-1]] and w == pytest.approx([sum(weights)])

    # 'sampled': one M_k with weight (K+1) * w_k, every k reachable
    model.twi_mode = 'sampled'
    seen = set()
    for seed in range(40):
        torch.manual_seed(seed)
        sel, w = model._twi_selection(approx)
        assert len(sel) == 1
        k = next(i for i, a in enumerate(approx) if a is sel[0])
        assert w == pytest.approx([num * weights[k]])
        seen.add(k)
    assert seen == set(range(num))
    model.train()
    torch.manual_seed(0)
    assert torch.isfinite(model.loss(inputs, samples)['era.loss_twi'])

    # ... which makes it an unbiased estimate of 'all': the mean over k of
    # the sampled losses is the 'all' loss
    with torch.no_grad():
        full = model.twi.loss(approx, weights, samples)
        estimates = [
            model.twi.loss([approx[k]], [num * weights[k]], samples)
            for k in range(num)
        ]
    assert (sum(estimates) / num).item() == pytest.approx(full.item(),
                                                          rel=1e-5)


def test_twi_probability_skips_steps_and_reweighs_the_others(
        student_cfg, teacher_cfg, teacher_ckpt, batch):
    """``twi_probability=p``: a step runs TWI with chance p and then weighs
    its loss by 1/p (unbiased over steps); a skipped step logs 0."""
    inputs, samples = batch
    model = _build(student_cfg, teacher_cfg, teacher_ckpt,
                   twi_probability=0.5)
    _perturb_mbrnet(model)
    model.train()
    with torch.no_grad():
        full = model.twi.loss(_approximations(model, inputs),
                              model.twi_weights, samples)
        values = set()
        for seed in range(12):
            torch.manual_seed(seed)
            value = model.loss(inputs, samples)['era.loss_twi'].item()
            assert value == 0.0 or value == pytest.approx(2 * full.item(),
                                                          rel=1e-5)
            values.add(value == 0.0)
    assert values == {True, False}  # both outcomes happen
    for bad in (0.0, 1.5):
        with pytest.raises(ValueError, match='twi_probability must be in'):
            _build(student_cfg, teacher_cfg, init=False, twi_probability=bad)


def test_twi_mode_none_drops_the_twi_loss(student_cfg, teacher_cfg,
                                          teacher_ckpt, batch):
    model = _build(student_cfg, teacher_cfg, teacher_ckpt, twi_mode='none')
    losses = model.loss(*batch)
    assert 'era.loss_twi' not in losses
    assert 'era.loss_mimic' in losses and 'era.loss_residual' in losses


def test_the_defaults_are_the_cheap_setting(student_cfg, teacher_cfg,
                                            teacher_ckpt, batch):
    """``type='ERADistiller'`` with no options: quarter-width bottleneck
    branches, one sampled approximation per step, the TWI head at 'auto'
    precision; a step trains the student through it."""
    model = _build(student_cfg, teacher_cfg, teacher_ckpt, full=False)
    assert model.twi_mode == 'sampled' and model.twi.precision == 'auto'
    teacher_width = model.mbrnet.branches[0][-1].conv.out_channels
    assert [b.conv.out_channels for b in model.mbrnet.branches[0]] == [
        teacher_width // 4, teacher_width // 4, teacher_width]
    model.train()
    losses = model.loss(*batch)
    assert torch.isfinite(losses['era.loss_twi']) and losses[
        'era.loss_twi'] > 0
    losses['era.loss_twi'].backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0
               for p in model.student.backbone.parameters())


# -- inference ----------------------------------------------------------------
def _check_detections(results, samples):
    assert len(results) == len(samples)
    for res in results:
        assert isinstance(res, DetDataSample)
        pred = res.pred_instances
        n = pred.bboxes.shape[0]
        assert n > 0
        assert pred.bboxes.shape == (n, 4)
        assert pred.scores.shape == (n, )
        assert pred.labels.shape == (n, )
        assert torch.isfinite(pred.bboxes).all()
        assert ((pred.scores >= 0) & (pred.scores <= 1)).all()
        assert ((pred.labels >= 0) & (pred.labels < NUM_CLASSES)).all()


def _predict(model, mode, alpha, make_batch):
    model.set_inference_mode(mode, alpha)
    inputs, samples = make_batch()  # fresh samples for every call
    with torch.no_grad():
        return model.predict(inputs, samples)


def test_inference_modes(model, make_batch):
    _perturb_mbrnet(model)
    model.eval()
    _, samples = make_batch()
    s = _predict(model, 'S', 0.5, make_batch)
    t = _predict(model, 'T', 0.5, make_batch)
    st = _predict(model, 'ST', 0.5, make_batch)
    for results in (s, t, st):
        _check_detections(results, samples)
    assert _differ(s, t) and _differ(st, s) and _differ(st, t)

    # ST at the ends of the blend is S and T
    _same_predictions(_predict(model, 'ST', 0.0, make_batch), s)
    _same_predictions(_predict(model, 'ST', 1.0, make_batch), t)
    # S is exactly the student detector on its own
    inputs, samples = make_batch()
    with torch.no_grad():
        _same_predictions(model.student.predict(inputs, samples), s)


def test_predict_never_touches_the_teacher(model, make_batch):
    _perturb_mbrnet(model)
    model.eval()
    expected = {(m, a): _predict(model, m, a, make_batch)
                for m, a in (('S', 0.5), ('T', 0.5), ('ST', 0.3))}
    teacher = model.teacher
    object.__setattr__(model, 'teacher', _Exploding())
    try:
        for (mode, alpha), ref in expected.items():
            _same_predictions(_predict(model, mode, alpha, make_batch), ref)
    finally:
        object.__setattr__(model, 'teacher', teacher)
    assert model.teacher is teacher


# -- checkpoints --------------------------------------------------------------
def test_checkpoint_round_trip_needs_no_teacher_checkpoint(
        model, student_cfg, teacher_cfg, make_batch, tmp_path):
    _perturb_mbrnet(model)
    model.eval()
    path = tmp_path / 'era.pth'
    torch.save({'state_dict': model.state_dict()}, str(path))

    missing = str(tmp_path / 'no' / 'teacher.pth')
    fresh = _build(student_cfg, teacher_cfg, missing, init=False)
    state = torch.load(str(path), map_location='cpu')['state_dict']
    result = fresh.load_state_dict(state, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    fresh.eval()
    for mode, alpha in (('T', 0.5), ('ST', 0.3), ('S', 0.5)):
        _same_predictions(
            _predict(fresh, mode, alpha, make_batch),
            _predict(model, mode, alpha, make_batch))
    assert not fresh.teacher_loaded  # testing never loaded the teacher

    # mmengine's loader (what tools/test.py uses) works too
    fresh = _build(student_cfg, teacher_cfg, missing, init=False)
    load_checkpoint(fresh, str(path), map_location='cpu', strict=True)
    fresh.eval()
    _same_predictions(
        _predict(fresh, 'T', 0.5, make_batch),
        _predict(model, 'T', 0.5, make_batch))


def test_init_student_head_copies_the_teacher_head(student_cfg, teacher_cfg,
                                                    teacher_ckpt):
    torch.manual_seed(0)
    model = _build(student_cfg, teacher_cfg, teacher_ckpt,
                   init_student_head=True)
    student = model.student.bbox_head.state_dict()
    teacher = model.teacher.bbox_head.state_dict()
    assert student.keys() == teacher.keys()
    for key in student:
        assert torch.equal(student[key], teacher[key]), key
    # a copy, trainable
    assert all(p.requires_grad for p in model.student.bbox_head.parameters())
    assert not {t.data_ptr() for t in student.values()} & {
        t.data_ptr() for t in teacher.values()}

    # the control: without the option the student head keeps its own init
    torch.manual_seed(0)
    plain = _build(student_cfg, teacher_cfg, teacher_ckpt)
    assert not torch.equal(
        plain.student.bbox_head.retina_cls.weight,
        plain.teacher.bbox_head.retina_cls.weight)


def test_channel_mismatch_gets_an_adapter(student_cfg, teacher_cfg,
                                          tmp_path, make_batch):
    """A 96-channel teacher FPN: MBRNet adds a 1x1 conv; the whole pipeline
    (training losses, T/ST inference) still works."""
    wide = _wide_teacher(teacher_cfg)
    teacher = MODELS.build(copy.deepcopy(wide))
    teacher.init_weights()
    ckpt = str(tmp_path / 'wide.pth')
    torch.save({'state_dict': teacher.state_dict()}, ckpt)
    model = _build(student_cfg, wide, ckpt)
    assert isinstance(model.mbrnet.adapter, torch.nn.Conv2d)
    assert (model.mbrnet.adapter.in_channels,
            model.mbrnet.adapter.out_channels) == (64, 96)
    model.train()
    losses = model.loss(*make_batch())
    assert all(torch.isfinite(_total(v)) for v in losses.values())
    model.eval()
    _, samples = make_batch()
    _check_detections(_predict(model, 'T', 0.5, make_batch), samples)
    _check_detections(_predict(model, 'ST', 0.5, make_batch), samples)
    # the heads differ in shape: copying the teacher head is refused clearly
    model = _build(student_cfg, wide, ckpt, init=False,
                   init_student_head=True)
    with pytest.raises(ValueError, match=r"another shape \(e\.g\. "
                       r"'bbox_head\..*in the teacher, .* in the student\)"
                       r".*nothing was loaded\. Set init_student_head=False"):
        model.init_weights()


# -- errors -------------------------------------------------------------------
def _wide_teacher(teacher_cfg):
    wide = copy.deepcopy(teacher_cfg)
    wide.neck.out_channels = 96
    wide.bbox_head.in_channels = 96
    wide.bbox_head.feat_channels = 96
    return wide


def test_missing_teacher_checkpoint_fails_at_init_weights(
        student_cfg, teacher_cfg, tmp_path):
    missing = str(tmp_path / 'nowhere' / 'teacher.pth')
    model = _build(student_cfg, teacher_cfg, missing, init=False)
    with pytest.raises(FileNotFoundError,
                       match='teacher checkpoint not found') as err:
        model.init_weights()
    assert 'nowhere' in str(err.value)


def test_no_teacher_checkpoint_configured(student_cfg, teacher_cfg):
    model = _build(student_cfg, teacher_cfg, None, init=False)
    with pytest.raises(ValueError, match='teacher_ckpt'):
        model.init_weights()


def test_class_count_mismatch(student_cfg, teacher_cfg):
    teacher_cfg.bbox_head.num_classes = 7
    with pytest.raises(ValueError,
                       match='student predicts 5 classes, the teacher 7'):
        _build(student_cfg, teacher_cfg, init=False)


def test_channel_mismatch_without_adapter(student_cfg, teacher_cfg):
    with pytest.raises(ValueError) as err:
        _build(student_cfg, _wide_teacher(teacher_cfg), init=False,
               mbrnet=dict(adapter='none'))
    msg = str(err.value)
    assert '64' in msg and '96' in msg and 'adapter' in msg


@pytest.mark.parametrize('role', ['student', 'teacher'])
def test_detector_without_the_heads_levels(student_cfg, teacher_cfg, role):
    cfg = student_cfg if role == 'student' else teacher_cfg
    cfg.neck = None  # the backbone's strides 4..32, not the head's 8..128
    what = 'the student lacks' if role == 'student' else 'its own neck lacks'
    with pytest.raises(ValueError,
                       match=f'head reads strides .*{what} \\[64, 128\\]'):
        _build(student_cfg, teacher_cfg, init=False)


def test_level_count_mismatch_pairs_the_teacher_heads_levels(
        student_cfg, teacher_cfg, batch):
    teacher_cfg.neck.num_outs = 4
    teacher_cfg.bbox_head.anchor_generator.strides = [8, 16, 32, 64]
    model = _build(student_cfg, teacher_cfg, init=False)
    model.teacher_loaded = True  # random teacher weights suffice here
    assert model.pairing.strides == (8, 16, 32, 64)
    assert model.pairing.student_index == (0, 1, 2, 3)
    losses = model.loss(*batch)
    assert torch.isfinite(losses['era.loss_twi'])
    # T decodes with the teacher's own head; ST needs the same levels
    model.set_inference_mode('T')
    with pytest.raises(ValueError, match='"ST" blends .*decode differently'):
        model.set_inference_mode('ST', 0.5)


def test_unknown_inference_mode(student_cfg, teacher_cfg):
    with pytest.raises(ValueError, match="unknown inference mode 'TS'"):
        _build(student_cfg, teacher_cfg, init=False, inference_mode='TS')
    model = _build(student_cfg, teacher_cfg, init=False)
    with pytest.raises(ValueError, match='unknown inference mode'):
        model.set_inference_mode('teacher')
    assert model.inference_mode == 'S'  # unchanged by the failed call


@pytest.mark.parametrize('alpha', [-0.1, 1.5, math.inf])
def test_alpha_outside_the_unit_interval(student_cfg, teacher_cfg, alpha):
    with pytest.raises(ValueError, match=r'alpha must be in \[0, 1\]'):
        _build(student_cfg, teacher_cfg, init=False, inference_mode='ST',
               alpha=alpha)


def test_unknown_twi_mode(student_cfg, teacher_cfg):
    with pytest.raises(ValueError, match="unknown twi_mode 'every'"):
        _build(student_cfg, teacher_cfg, init=False, twi_mode='every')


@pytest.mark.parametrize('weights', [[1.0, 0.5], [1.0] * 6])
def test_twi_weights_of_the_wrong_length(student_cfg, teacher_cfg, weights):
    with pytest.raises(ValueError, match=r'needs K\+1 = 5'):
        _build(student_cfg, teacher_cfg, init=False, twi_weights=weights)


def test_negative_twi_weights_and_loss_weights(student_cfg, teacher_cfg):
    with pytest.raises(ValueError, match='non-negative'):
        _build(student_cfg, teacher_cfg, init=False,
               twi_weights=[1.0, -1.0, 0.5, 0.5, 0.5])
    with pytest.raises(ValueError, match='mimic_weight must be >= 0'):
        _build(student_cfg, teacher_cfg, init=False, mimic_weight=-1.0)


@pytest.mark.parametrize('head_change', [
    dict(anchor_generator=dict(octave_base_scale=4)),
    dict(anchor_generator=dict(ratios=[0.25, 1.0, 4.0])),
    dict(bbox_coder=dict(target_stds=[0.1, 0.1, 0.2, 0.2])),
])
def test_st_mode_refuses_a_teacher_head_with_other_anchors_or_box_coding(
        student_cfg, teacher_cfg, head_change):
    """ST decodes the blended outputs with the student head's anchors and
    box coder: they must be the teacher's, or ST boxes are wrong. T decodes
    the TWI head's outputs with the teacher head itself: always right."""
    for key, value in head_change.items():
        teacher_cfg.bbox_head[key].update(value)
    model = _build(student_cfg, teacher_cfg, init=False)  # S: fine
    assert model.inference_mode == 'S'
    model.set_inference_mode('T')
    with pytest.raises(ValueError, match='use mode "S" or "T"'):
        model.set_inference_mode('ST', 0.5)
    with pytest.raises(ValueError, match='use mode "S" or "T"'):
        _build(student_cfg, teacher_cfg, init=False, inference_mode='ST')


def test_lazily_loaded_teacher_also_fills_the_twi_head(student_cfg,
                                                       teacher_cfg,
                                                       teacher_ckpt, batch):
    """``loss`` without ``init_weights`` loads the teacher on first use
    (``teacher_features``); TWI must then score with the loaded head, not
    with the randomly built one it was copied from."""
    model = _build(student_cfg, teacher_cfg, teacher_ckpt, init=False)
    assert not model.teacher_loaded
    model.train()
    losses = model.loss(*batch)
    assert model.teacher_loaded and torch.isfinite(losses['era.loss_twi'])
    ckpt = torch.load(teacher_ckpt, map_location='cpu')['state_dict']
    for key, value in model.twi.head.state_dict().items():
        assert torch.equal(value, ckpt['bbox_head.' + key]), key
