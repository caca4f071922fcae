"""The assign-once AnchorHead loss shared by TWI and Trunk-to-Branch: which
heads it admits, its equality with mmdet's own loss, and the fallbacks."""
import copy

import pytest
import torch
from mmdet.models.dense_heads import AnchorHead, RPNHead
from mmdet.registry import MODELS
from mmdet.utils import register_all_modules

from mmera.models.common.anchor_loss import (
    assign_once_head_names,
    assign_targets,
    stacked_anchor_loss,
    supports_assign_once,
)
from mmera.models.era.teacher_head_reuse import TeacherHeadReuse

# Stated here again, not imported: the test pins the rule itself.
LOSS_PATH = ('loss_by_feat', 'get_targets', '_get_targets_single',
             'loss_by_feat_single')
# AnchorHead subclasses that keep AnchorHead.loss_by_feat_single but change
# the assignment or the loss: the old rule wrongly gave them RetinaNet's.
REPLACE_THE_LOSS = ('FreeAnchorRetinaHead', 'PISARetinaHead', 'FSAFHead',
                    'YOLOFHead', 'GARetinaHead', 'GuidedAnchorHead',
                    'DDODHead', 'YOLACTHead')
# The tiny RetinaNet's FPN on 128 px inputs: strides 8..128.
LEVEL_SIZES = (16, 8, 4, 2, 1)


def _anchor_heads():
    register_all_modules()
    return {
        name: cls
        for name, cls in MODELS.module_dict.items()
        if isinstance(cls, type) and issubclass(cls, AnchorHead)
    }


def _head(student_cfg, head_type='RetinaHead'):
    cfg = copy.deepcopy(student_cfg.bbox_head)
    cfg.update(type=head_type, train_cfg=student_cfg.train_cfg,
               test_cfg=student_cfg.test_cfg)
    torch.manual_seed(0)
    head = MODELS.build(cfg)
    head.init_weights()
    return head


def _feats(seed, num_images=2):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(num_images, 64, s, s, generator=gen)
            for s in LEVEL_SIZES]


def _mmdet_loss(head, feats, samples):
    """The head's own loss of one feature set (assigns itself)."""
    cls, box = head(feats)
    losses = head.loss_by_feat(cls, box, [s.gt_instances for s in samples],
                               [s.metainfo for s in samples])
    return {k: sum(v) if isinstance(v, (list, tuple)) else v
            for k, v in losses.items()}


# -- the rule -----------------------------------------------------------------
def test_rule_admits_exactly_the_heads_with_anchor_heads_whole_loss():
    heads = _anchor_heads()
    assert len(heads) > 10
    for name, cls in heads.items():
        # RPNHead's loss_by_feat is AnchorHead's with renamed keys
        own = [getattr(AnchorHead, m) for m in LOSS_PATH]
        own[0] = (AnchorHead.loss_by_feat, RPNHead.loss_by_feat)
        expected = all(
            getattr(cls, m) in (o if isinstance(o, tuple) else (o, ))
            for m, o in zip(LOSS_PATH, own))
        assert supports_assign_once(cls) is expected, name
    admitted = sorted(n for n, c in heads.items() if supports_assign_once(c))
    assert assign_once_head_names() == admitted
    for name in ('AnchorHead', 'RetinaHead', 'RetinaSepBNHead', 'RPNHead'):
        assert name in admitted, name
    # the heads the old rule let through, and a few that never passed
    for name in REPLACE_THE_LOSS + ('SSDHead', 'ATSSHead', 'GFLHead'):
        if name in heads:
            assert not supports_assign_once(heads[name]), name
    for name in REPLACE_THE_LOSS:
        if name in heads:
            assert heads[name].loss_by_feat_single is \
                AnchorHead.loss_by_feat_single, name
    assert not supports_assign_once(MODELS.get('FCOSHead'))


def test_rule_accepts_instances(student_cfg):
    assert supports_assign_once(_head(student_cfg))
    assert not supports_assign_once(_head(student_cfg, 'PISARetinaHead'))
    assert not supports_assign_once(torch.nn.Conv2d(1, 1, 1))


# -- the stacked loss ---------------------------------------------------------
def test_stacked_loss_is_the_weighted_sum_of_mmdet_losses_per_copy(
        student_cfg, batch):
    head = _head(student_cfg)
    _, samples = batch
    copies = [_feats(seed) for seed in range(3)]
    cls, box = head([torch.cat(level) for level in zip(*copies)])
    targets = assign_targets(head, [c.shape[-2:] for c in cls], samples,
                             cls[0].device)
    plain = [_mmdet_loss(head, f, samples) for f in copies]

    weights = [0.5, 0.0, 2.0]
    loss_cls, loss_bbox = stacked_anchor_loss(head, cls, box, targets,
                                              weights)
    assert len(loss_cls) == len(loss_bbox) == len(LEVEL_SIZES)
    for key, got in (('loss_cls', loss_cls), ('loss_bbox', loss_bbox)):
        expected = sum(w * p[key] for w, p in zip(weights, plain))
        assert sum(got).item() == pytest.approx(expected.item(), rel=1e-5)

    loss_cls, loss_bbox = stacked_anchor_loss(head, cls, box, targets,
                                              average=True)
    for key, got in (('loss_cls', loss_cls), ('loss_bbox', loss_bbox)):
        expected = sum(p[key] for p in plain) / 3
        assert sum(got).item() == pytest.approx(expected.item(), rel=1e-5)

    # one copy, no weights: exactly the stock per-level losses
    one_cls, one_box = stacked_anchor_loss(
        head, [c[:2] for c in cls], [b[:2] for b in box], targets)
    stock = head.loss_by_feat([c[:2] for c in cls], [b[:2] for b in box],
                              [s.gt_instances for s in samples],
                              [s.metainfo for s in samples])
    for got, want in zip(one_cls + one_box,
                         stock['loss_cls'] + stock['loss_bbox']):
        assert torch.equal(got, want)


def test_rpn_head_stacked_loss_is_its_own_renamed_loss(student_cfg,
                                                      batch):
    """RPNHead: the same loss as AnchorHead's, under its own key names;
    one copy through the stacked loss equals its loss_by_feat (the same
    RandomSampler draw)."""
    cfg = dict(type='RPNHead', in_channels=64, feat_channels=64,
               anchor_generator=dict(type='AnchorGenerator', scales=[8],
                                     ratios=[0.5, 1.0, 2.0],
                                     strides=[8, 16, 32, 64, 128]),
               bbox_coder=dict(type='DeltaXYWHBBoxCoder',
                               target_means=[0.0] * 4,
                               target_stds=[1.0] * 4),
               train_cfg=dict(
                   assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.7,
                                 neg_iou_thr=0.3, min_pos_iou=0.3),
                   sampler=dict(type='RandomSampler', num=64,
                                pos_fraction=0.5),
                   allowed_border=-1, pos_weight=-1, debug=False))
    torch.manual_seed(0)
    head = MODELS.build(cfg)
    _, samples = batch
    for s in samples:
        s.gt_instances.labels = torch.zeros_like(s.gt_instances.labels)
    cls, box = head(_feats(1))
    torch.manual_seed(5)
    stock = head.loss_by_feat(cls, box, [s.gt_instances for s in samples],
                              [s.metainfo for s in samples])
    torch.manual_seed(5)
    targets = assign_targets(head, [c.shape[-2:] for c in cls], samples,
                             cls[0].device)
    got_cls, got_box = stacked_anchor_loss(head, cls, box, targets)
    for got, want in zip(got_cls + got_box,
                         stock['loss_rpn_cls'] + stock['loss_rpn_bbox']):
        assert torch.equal(got, want)


def test_stacked_loss_errors(student_cfg, batch):
    head = _head(student_cfg)
    _, samples = batch
    cls, box = head(_feats(0, num_images=3))
    targets = assign_targets(head, [c.shape[-2:] for c in cls], samples,
                             cls[0].device)
    with pytest.raises(ValueError, match='3 score rows are not a whole'):
        stacked_anchor_loss(head, cls, box, targets)
    cls, box = head(_feats(0, num_images=4))
    with pytest.raises(ValueError, match='3 copy weights for 2 copies'):
        stacked_anchor_loss(head, cls, box, targets, [1.0, 1.0, 1.0])


# -- the users ----------------------------------------------------------------
def test_twi_falls_back_to_the_heads_own_loss_for_other_heads(
        student_cfg, batch):
    """FreeAnchor keeps AnchorHead.loss_by_feat_single but replaces
    loss_by_feat: TWI must score with FreeAnchor's loss, not RetinaNet's."""
    head = _head(student_cfg, 'FreeAnchorRetinaHead')
    twi = TeacherHeadReuse(head)
    _, samples = batch
    approx = [_feats(seed) for seed in range(3)]
    weights = [1.0, 0.5, 0.25]
    got = twi.loss(approx, weights, samples)
    expected = sum(w * sum(_mmdet_loss(twi.head, a, samples).values())
                   for w, a in zip(weights, approx))
    assert got.item() == pytest.approx(expected.item(), rel=1e-5)
    # what the old rule computed: a plain RetinaNet loss, another value
    cls, box = twi(approx)
    targets = assign_targets(twi.head, [c.shape[-2:] for c in cls], samples,
                             cls[0].device)
    retina = sum(sum(part) for part in stacked_anchor_loss(
        twi.head, cls, box, targets, weights))
    assert retina.item() != pytest.approx(got.item(), rel=1e-3)


@pytest.mark.parametrize('head_type',
                         ['FreeAnchorRetinaHead', 'PISARetinaHead'])
def test_trunk_branch_refuses_heads_that_replace_the_loss(
        student_cfg, head_type):
    student_cfg.bbox_head.type = head_type
    with pytest.raises(ValueError) as err:
        MODELS.build(dict(type='TrunkBranchDistiller', student=student_cfg))
    message = str(err.value)
    assert f'{head_type} is not supported' in message
    assert 'RetinaHead' in message and 'loss_by_feat' in message
