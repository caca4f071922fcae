"""The feature MSE shared by MBRNet (ERA), RKD and ResKD, and the one
``feature_norm`` option they all take."""
import copy
import inspect

import pytest
import torch
import torch.nn.functional as F
from mmdet.registry import MODELS

from mmera.models import MBRNet, ResKDDistiller, RKDDistiller
from mmera.models.losses import (
    DEFAULT_FEATURE_NORM,
    FEATURE_NORMS,
    check_feature_norm,
    feature_mse,
    teacher_level_norms,
)

SHAPES = [(2, 8, 8, 8), (2, 8, 4, 4), (2, 8, 2, 2)]


def _levels(seed, scale=1.0):
    gen = torch.Generator().manual_seed(seed)
    return [scale * torch.randn(*s, generator=gen) for s in SHAPES]


def test_plain_mse_is_the_level_mean_of_torch_mse():
    preds, targets = _levels(0), _levels(1)
    norms = teacher_level_norms(_levels(2, scale=5.0), 'none')
    expected = torch.stack([F.mse_loss(p, t)
                            for p, t in zip(preds, targets)]).mean()
    assert torch.equal(feature_mse(preds, targets, norms), expected)


def test_teacher_std_divides_each_level_by_the_teacher_variance():
    preds, targets, teacher = _levels(0), _levels(1), _levels(2, scale=3.0)
    norms = teacher_level_norms(teacher, 'teacher_std')
    # the formula of the three former copies, to the bit
    expected = torch.stack([
        F.mse_loss(p, t) / s.var().clamp(min=1e-6)
        for p, t, s in zip(preds, targets, teacher)
    ]).mean()
    assert torch.equal(feature_mse(preds, targets, norms), expected)
    # scale-free per level
    factors = [1.0, 100.0, 0.01]
    scaled = feature_mse(
        [f * p for f, p in zip(factors, preds)],
        [f * t for f, t in zip(factors, targets)],
        teacher_level_norms([f * s for f, s in zip(factors, teacher)],
                            'teacher_std'))
    assert scaled.item() == pytest.approx(expected.item(), rel=1e-5)


def test_a_constant_teacher_level_divides_by_the_clamp_not_zero():
    norms = teacher_level_norms([torch.ones(1, 4, 2, 2)], 'teacher_std')
    assert norms[0].item() == pytest.approx(1e-6)


def test_teacher_and_targets_carry_no_gradient():
    preds = [p.requires_grad_() for p in _levels(0)]
    targets = [t.requires_grad_() for t in _levels(1)]
    teacher = [t.requires_grad_() for t in _levels(2)]
    norms = teacher_level_norms(teacher, 'teacher_std')
    assert not any(n.requires_grad for n in norms)
    loss = feature_mse(preds, targets, norms)
    grads = torch.autograd.grad(loss, preds + targets, allow_unused=True)
    assert all(g is not None for g in grads[:len(preds)])
    assert all(g is None for g in grads[len(preds):])


def test_options_are_defined_once():
    assert FEATURE_NORMS == ('none', 'teacher_std')
    assert DEFAULT_FEATURE_NORM == 'teacher_std'
    for cls in (MBRNet, RKDDistiller, ResKDDistiller):
        params = inspect.signature(cls).parameters
        assert params['feature_norm'].default == DEFAULT_FEATURE_NORM, cls
    assert check_feature_norm('X', 'none') == 'none'
    with pytest.raises(ValueError, match=r"X: unknown feature_norm 'l2'; "
                       r"choose one of \('none', 'teacher_std'\)"):
        check_feature_norm('X', 'l2')
    with pytest.raises(ValueError, match='unknown feature_norm'):
        teacher_level_norms(_levels(0), 'std')


def _method_cfgs(student_cfg, teacher_cfg):
    era = dict(type='ERADistiller', student=student_cfg,
               teacher_config=teacher_cfg,
               mbrnet=dict(mimic_norm='teacher_std'))
    rkd = dict(type='RKDDistiller', student=student_cfg,
               teacher_config=teacher_cfg, mimic_norm='teacher_std')
    mbrnet = dict(type='MBRNet', student_channels=8, teacher_channels=8,
                  mimic_norm='none')
    return dict(ERADistiller=era, RKDDistiller=rkd, MBRNet=mbrnet)


@pytest.mark.parametrize('method', ['ERADistiller', 'RKDDistiller', 'MBRNet'])
def test_the_old_mimic_norm_name_says_it_was_renamed(student_cfg,
                                                      teacher_cfg, method):
    cfg = _method_cfgs(student_cfg, teacher_cfg)[method]
    with pytest.raises(ValueError) as err:
        MODELS.build(copy.deepcopy(cfg))
    message = str(err.value)
    assert 'mimic_norm was renamed feature_norm' in message
    assert 'feature_norm=' in message


def test_mbrnet_uses_the_shared_loss():
    """MBRNet's mimic loss is feature_mse on (P(S), T) under its norm."""
    net = MBRNet(8, 8, num_branches=1)
    base, teacher = _levels(0), _levels(1, scale=4.0)
    preds = [_levels(3)]
    got = net.loss(base, preds, teacher)['loss_mimic']
    norms = teacher_level_norms(teacher, 'teacher_std')
    assert torch.equal(got, feature_mse(base, teacher, norms))
