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
from torch.nn.modules.batchnorm import _BatchNorm

from mmdet.models.dense_heads import (AnchorHead, ATSSHead, FCOSHead, GFLHead,
                                      RTMDetHead)
from mmdet.models.utils import unpack_gt_instances
from mmdet.registry import MODELS
from mmera.models.head_loss_paths import reused_targets
from mmera.models.teacher_head_reuse import TeacherHeadReuse, sum_losses
from tiny_detectors import make_samples, tiny_head

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
