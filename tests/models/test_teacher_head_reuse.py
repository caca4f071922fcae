"""TWI on every dense-head family: each fast path equals the head's own loss.

For RetinaNet (one stacked loss call), FCOS/ATSS/GFL (targets assigned once,
one loss call per approximation) and RTMDet (the head's own loss per
approximation), the TWI loss of K+1 approximations and its gradients equal
``sum_k w_k * head.loss_by_feat(head(M_k))`` of an untouched copy of the
head, and the reuse path assigns once where the reference assigns K+1 times.
"""
import copy
import io
from unittest import mock

import pytest
import torch
from mmdet.models.dense_heads import (
    AnchorHead,
    ATSSHead,
    FCOSHead,
    GFLHead,
    RTMDetHead,
)
from mmdet.models.utils import unpack_gt_instances
from mmdet.registry import MODELS
from tiny_detectors import make_samples, tiny_head
from torch.nn.modules.batchnorm import _BatchNorm

from mmera.models.common.utils import _native_bf16, resolve_precision
from mmera.models.era.head_loss_paths import reused_targets
from mmera.models.era.teacher_head_reuse import TeacherHeadReuse, sum_losses

WEIGHTS = [1.0, 0.5, 0.25]
#: family -> (the path TWI must take, the class whose get_targets assigns)
EXPECTED = {
    'retinanet': ('stacked', AnchorHead),
    'fcos': ('reused_targets', FCOSHead),
    'atss': ('reused_targets', ATSSHead),
    'gfl': ('reused_targets', GFLHead),
    'rtmdet': ('per_approximation', RTMDetHead),
}


def _features(head, size=128, seed=0):
    torch.manual_seed(seed)
    strides = [s[0] for s in head.prior_generator.strides]
    return [[
        torch.randn(2, head.in_channels, -(-size // s), -(-size // s),
                    requires_grad=True) for s in strides
    ] for _ in WEIGHTS]


def _reference(head, approximations, samples):
    """sum_k w_k * the head's own loss of approximation k, one by one."""
    gts, ignores, metas = unpack_gt_instances(samples)
    total = 0.
    for weight, approx in zip(WEIGHTS, approximations):
        losses = head.loss_by_feat(*head(approx), gts, metas, ignores)
        total = total + weight * sum_losses(losses)
    return total


def _frozen_train_mode(head):
    head.train()
    for module in head.modules():
        if isinstance(module, _BatchNorm):
            module.eval()
    return head


@pytest.mark.parametrize('family', sorted(EXPECTED))
def test_twi_loss_equals_the_heads_own_loss(family):
    torch.manual_seed(0)
    head = MODELS.build(tiny_head(family))
    head.init_weights()
    twi = TeacherHeadReuse(head).train()
    path, assigner_cls = EXPECTED[family]
    assert twi.loss_path == path
    samples = make_samples()
    approx = _features(head)
    ref_approx = [[x.detach().clone().requires_grad_() for x in a]
                  for a in approx]

    with mock.patch.object(assigner_cls, 'get_targets', autospec=True,
                           side_effect=assigner_cls.get_targets) as calls:
        loss = twi.loss(approx, WEIGHTS, samples)
        twi_calls = calls.call_count
        ref_head = _frozen_train_mode(copy.deepcopy(head))
        ref = _reference(ref_head, ref_approx, samples)
        ref_calls = calls.call_count - twi_calls
    assert ref_calls == len(WEIGHTS)
    assert twi_calls == (len(WEIGHTS) if path == 'per_approximation' else 1)
    assert torch.isfinite(loss) and loss.item() > 0
    torch.testing.assert_close(loss, ref, rtol=1e-5, atol=1e-6)

    loss.backward()
    ref.backward()
    for a, r in zip(approx, ref_approx):
        for x, y in zip(a, r):
            torch.testing.assert_close(x.grad, y.grad, rtol=1e-5, atol=1e-7)
    # frozen: no parameter of the head got a gradient
    assert all(p.grad is None for p in twi.head.parameters())


def test_fcos_twi_scores_boxes_at_training_scale():
    """FCOS multiplies its boxes by the stride only in eval mode: TWI must
    score them as the head's training loss does (frozen BN aside)."""
    cfg = tiny_head('fcos')
    cfg.update(norm_on_bbox=True)  # mmdet's FCOS "-normbbox" configs
    head = MODELS.build(cfg)
    twi = TeacherHeadReuse(head).train()
    feats = _features(head)[0]
    train_boxes = twi([feats])[1]
    twi.eval()
    eval_boxes = twi([feats])[1]
    assert not torch.allclose(train_boxes[1], eval_boxes[1])
    torch.testing.assert_close(train_boxes[1] * 16, eval_boxes[1])


def test_bn_statistics_stay_frozen_in_training():
    head = MODELS.build(tiny_head('rtmdet'))
    twi = TeacherHeadReuse(head).train()
    before = {k: v.clone() for k, v in twi.head.state_dict().items()}
    twi.loss(_features(head), WEIGHTS, make_samples())
    after = twi.head.state_dict()
    assert twi.head.training
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_reused_targets_leave_the_head_as_it_was():
    head = MODELS.build(tiny_head('gfl'))
    twi = TeacherHeadReuse(head).train()
    assert type(twi.head) is GFLHead and twi.head_name == 'GFLHead'
    keys = set(twi.state_dict())
    twi.loss(_features(head), WEIGHTS, make_samples())
    # the memo lived for the loss call only; the copy pickles (torch.save)
    assert 'get_targets' not in vars(twi.head)
    assert set(twi.state_dict()) == keys
    buffer = io.BytesIO()
    torch.save(twi, buffer)
    with pytest.raises(ValueError, match='cannot be reused'):
        with reused_targets(MODELS.build(tiny_head('rtmdet'))):
            pass


def test_a_random_sampler_takes_the_per_approximation_path():
    cfg = tiny_head('atss')
    cfg.train_cfg.sampler = dict(type='RandomSampler', num=64,
                                 pos_fraction=0.5)
    assert TeacherHeadReuse(MODELS.build(cfg)).loss_path == \
        'per_approximation'
    assert TeacherHeadReuse(MODELS.build(tiny_head('atss'))).loss_path == \
        'reused_targets'


def test_non_dense_head_is_refused_with_a_message():
    with pytest.raises(ValueError, match='not an mmdet dense head.*FitNet'):
        TeacherHeadReuse(torch.nn.Linear(2, 2))


@pytest.mark.parametrize('family', ['retinanet', 'gfl'])
def test_bf16_twi_approximates_fp32_and_predicts_in_fp32(family):
    """``precision='bf16'``: the head's training forward under autocast,
    the loss on float32 outputs, close to the float32 loss; the gradients
    reaching the approximations are float32; T-mode (eval) is float32
    and equal to the float32 copy's."""
    torch.manual_seed(0)
    head = MODELS.build(tiny_head(family))
    head.init_weights()
    fp32 = TeacherHeadReuse(head).train()
    bf16 = TeacherHeadReuse(head, precision='bf16').train()
    samples = make_samples()
    approx = _features(head)
    approx_bf = [[x.detach().clone().requires_grad_() for x in a]
                 for a in approx]
    outs = bf16(approx_bf)
    assert all(t.dtype == torch.float32 for level in outs for t in level)
    loss, loss_bf = (fp32.loss(approx, WEIGHTS, samples),
                     bf16.loss(approx_bf, WEIGHTS, samples))
    assert loss_bf.dtype == torch.float32
    # bf16 keeps 8 bits of mantissa: ~1% on a sum of many terms
    torch.testing.assert_close(loss_bf, loss, rtol=3e-2, atol=1e-3)
    assert loss_bf.item() != loss.item()  # it did run in bf16
    loss.backward()
    loss_bf.backward()
    assert all(y.grad.dtype == torch.float32 for a in approx_bf for y in a)
    # the gradient as a whole points the same way (levels without positive
    # priors get ~1e-9 gradients, which bf16 rounding dominates)
    grad, grad_bf = (torch.cat([x.grad.flatten() for a in xs for x in a])
                     for xs in (approx, approx_bf))
    assert torch.nn.functional.cosine_similarity(grad, grad_bf, dim=0) > 0.99
    bf16.eval()
    fp32.eval()
    feats = [x.detach() for x in approx[0]]
    with torch.no_grad():
        for a, b in zip(bf16([feats]), fp32([feats])):
            for x, y in zip(a, b):
                assert torch.equal(x, y)


def test_an_unknown_precision_is_refused():
    head = MODELS.build(tiny_head('retinanet'))
    with pytest.raises(ValueError, match=r"TeacherHeadReuse: precision must "
                       r"be one of \['auto', 'bf16', 'fp16', 'fp32'\], got "
                       r"'int8'"):
        TeacherHeadReuse(head, precision='int8')


def test_auto_precision_is_the_bf16_head_where_the_cpu_runs_bf16():
    """``precision='auto'`` on this CPU gives exactly the loss of the
    precision it resolves to: bf16 where oneDNN runs bf16, else fp32."""
    native = torch.ops.mkldnn._is_mkldnn_bf16_supported()
    cpu = torch.device('cpu')
    assert resolve_precision('auto', cpu) == ('bf16' if native else 'fp32')
    assert resolve_precision('fp16', cpu) == 'fp16'  # stated: kept
    torch.manual_seed(0)
    head = MODELS.build(tiny_head('retinanet'))
    head.init_weights()
    samples = make_samples()
    approx = _features(head)
    losses = {p: TeacherHeadReuse(head, precision=p).train().loss(
        approx, WEIGHTS, samples) for p in ('auto', 'bf16', 'fp32')}
    assert torch.equal(losses['auto'],
                       losses['bf16' if native else 'fp32'])


def test_a_head_without_bf16_kernels_runs_in_fp32_under_auto(monkeypatch):
    """mmcv's deformable convolution has no bfloat16 kernel: under 'auto'
    (here forced to resolve to bf16) a head that holds one gives exactly
    its float32 loss, from its first step on; a stated 'bf16' is refused
    with the fix rather than crashing inside mmcv."""
    monkeypatch.setattr('mmera.models.common.utils._native_bf16',
                        lambda device_type, index: True)
    torch.manual_seed(0)
    cfg = tiny_head('retinanet')
    # mmcv's DeformConv2d, biasless: with a norm after it
    cfg.update(conv_cfg=dict(type='DCN', deform_groups=1),
               norm_cfg=dict(type='GN', num_groups=8))
    head = MODELS.build(cfg)
    head.init_weights()
    samples = make_samples()
    approx = _features(head, size=384)  # every level >= the 3x3 kernel
    fp32 = TeacherHeadReuse(head, precision='fp32').train()
    auto = TeacherHeadReuse(head, precision='auto').train()
    assert not auto.frozen_forward.needs_fp32
    assert torch.equal(auto.loss(approx, WEIGHTS, samples),
                       fp32.loss(approx, WEIGHTS, samples))
    assert auto.frozen_forward.needs_fp32 and auto.precision == 'auto'
    stated = TeacherHeadReuse(head, precision='bf16').train()
    with pytest.raises(ValueError, match=r"TeacherHeadReuse: the teacher's "
                       r"RetinaHead cannot run at precision 'bf16': .*"
                       r"BFloat16.*Set twi_precision='auto' \(float32 for "
                       r"such a head\) or 'fp32'"):
        stated.loss(approx, WEIGHTS, samples)


@pytest.mark.parametrize('capability,expected', [((7, 5), 'fp32'),
                                                 ((8, 0), 'bf16'),
                                                 ((9, 0), 'bf16')])
def test_auto_precision_on_a_gpu_follows_its_compute_capability(
        monkeypatch, capability, expected):
    """Turing and older GPUs only emulate bf16: 'auto' keeps fp32."""
    monkeypatch.setattr(torch.cuda, 'get_device_capability',
                        lambda index=None: capability)
    _native_bf16.cache_clear()
    try:
        assert resolve_precision('auto', torch.device('cuda', 0)) == expected
    finally:
        _native_bf16.cache_clear()


def _saved_bytes(fn):
    """``fn()``'s result and the bytes autograd saved for its backward."""
    saved = []

    def pack(t):
        saved.append(t.numel() * t.element_size())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    return out, sum(saved)


@pytest.mark.parametrize('family', sorted(EXPECTED))
def test_recompute_gives_the_same_loss_and_gradients_and_saves_less(family):
    """``recompute=True``: one checkpointed head pass and loss per
    approximation. The loss and the gradients equal the batched path's;
    autograd keeps a fraction of the activations; the targets are still
    assigned once where the head allows it (the memo serves the
    recomputation too), per approximation and per recomputation otherwise.
    """
    torch.manual_seed(0)
    head = MODELS.build(tiny_head(family))
    head.init_weights()
    path, assigner_cls = EXPECTED[family]
    batched = TeacherHeadReuse(head).train()
    recomputed = TeacherHeadReuse(head, recompute=True).train()
    samples = make_samples()
    approx = _features(head)
    approx_re = [[x.detach().clone().requires_grad_() for x in a]
                 for a in approx]
    loss, saved = _saved_bytes(lambda: batched.loss(approx, WEIGHTS, samples))
    with mock.patch.object(assigner_cls, 'get_targets', autospec=True,
                           side_effect=assigner_cls.get_targets) as calls:
        loss_re, saved_re = _saved_bytes(
            lambda: recomputed.loss(approx_re, WEIGHTS, samples))
        loss_re.backward()
    assert calls.call_count == (2 * len(WEIGHTS)
                                if path == 'per_approximation' else 1)
    torch.testing.assert_close(loss_re, loss, rtol=1e-5, atol=1e-6)
    loss.backward()
    for a, r in zip(approx, approx_re):
        for x, y in zip(a, r):
            torch.testing.assert_close(y.grad, x.grad, rtol=1e-5, atol=1e-7)
    assert all(p.grad is None for p in recomputed.head.parameters())
    assert 'get_targets' not in vars(recomputed.head)
    # K+1 head passes' activations against their inputs alone
    assert saved_re < saved / 4, (saved_re, saved)


@pytest.mark.parametrize('family', ['retinanet', 'fcos'])
def test_recompute_checkpoints_one_image_where_targets_are_assigned_once(
        family):
    """``'stacked'`` heads (targets assigned before any pass): one
    checkpoint per approximation AND image, each saving one image's input;
    the others one per approximation (their targets are the whole batch's).
    """
    torch.manual_seed(0)
    head = MODELS.build(tiny_head(family))
    head.init_weights()
    twi = TeacherHeadReuse(head, recompute=True).train()
    samples = make_samples()
    approx = _features(head)
    from mmera.models.era import teacher_head_reuse as module
    with mock.patch.object(module, 'checkpoint', wraps=module.checkpoint
                           ) as ckpt:
        twi.loss(approx, WEIGHTS, samples).backward()
    per_pass = len(samples) if family == 'retinanet' else 1
    assert ckpt.call_count == len(WEIGHTS) * per_pass
    batch_rows = {args[3].size(0) for args, _ in ckpt.call_args_list}
    assert batch_rows == {len(samples) // per_pass}


def test_recompute_is_a_training_path_only():
    """In eval, or under no_grad, ``recompute`` changes nothing."""
    head = MODELS.build(tiny_head('retinanet'))
    twi = TeacherHeadReuse(head, recompute=True).eval()
    with mock.patch('mmera.models.era.teacher_head_reuse.checkpoint') as ckpt:
        twi.loss(_features(head), WEIGHTS, make_samples())
        twi.train()
        with torch.no_grad():
            twi.loss(_features(head), WEIGHTS, make_samples())
    ckpt.assert_not_called()


def test_recompute_under_bf16_matches_the_batched_bf16_loss():
    """``recompute`` with ``precision='bf16'``: the checkpointed passes
    re-enter their own autocast and give the batched bf16 loss."""
    torch.manual_seed(0)
    head = MODELS.build(tiny_head('gfl'))
    head.init_weights()
    samples = make_samples()
    approx = _features(head)
    losses = [TeacherHeadReuse(head, precision='bf16',
                               recompute=recompute).train().loss(
                                   approx, WEIGHTS, samples)
              for recompute in (False, True)]
    torch.testing.assert_close(losses[1], losses[0], rtol=1e-2, atol=1e-3)
    losses[1].backward()
    assert all(torch.isfinite(x.grad).all() for a in approx for x in a)
