"""The loss-path allow-lists over every head in mmdet's registry."""
import inspect

import pytest
from mmdet.models.dense_heads import AnchorHead, RPNHead
from mmdet.models.dense_heads.base_dense_head import BaseDenseHead
from mmdet.registry import MODELS
from mmdet.utils import register_all_modules

import mmera  # noqa: F401
from mmera.models.common.anchor_loss import ASSIGN_ONCE_METHODS
from mmera.models.era.head_loss_paths import (
    REUSED_TARGET_FAMILIES,
    loss_path,
    loss_path_heads,
)

register_all_modules()
HEADS = {name: cls for name, cls in MODELS.module_dict.items()
         if inspect.isclass(cls) and issubclass(cls, BaseDenseHead)}

#: AnchorHead subclasses that replace its assignment or loss: a plain
#: RetinaNet loss would silently be wrong for them.
NOT_ANCHOR_LOSS = ['FreeAnchorRetinaHead', 'PISARetinaHead', 'PISASSDHead',
                   'DDODHead', 'FSAFHead', 'YOLOFHead', 'GARetinaHead',
                   'GuidedAnchorHead', 'YOLACTHead', 'SSDHead', 'ATSSHead',
                   'GFLHead', 'PAAHead', 'TOODHead', 'RTMDetHead',
                   'RTMDetSepBNHead']


def test_registry_is_populated():
    assert len(HEADS) > 40
    assert all(name in HEADS for name in NOT_ANCHOR_LOSS)


@pytest.mark.parametrize('name', NOT_ANCHOR_LOSS)
def test_heads_with_their_own_loss_are_not_stacked(name):
    assert loss_path(HEADS[name]) != 'stacked'


def test_stacked_only_where_the_whole_loss_is_anchor_heads():
    for name, cls in HEADS.items():
        own = all(getattr(cls, m, None) is getattr(AnchorHead, m)
                  for m in ASSIGN_ONCE_METHODS if m != 'loss_by_feat') and (
            getattr(cls, 'loss_by_feat', None) in (AnchorHead.loss_by_feat,
                                                   RPNHead.loss_by_feat))
        assert (loss_path(cls) == 'stacked') == (
            issubclass(cls, AnchorHead) and own), name
    assert 'RetinaHead' in loss_path_heads('stacked')


def test_reused_targets_only_for_unchanged_family_code():
    reused = loss_path_heads('reused_targets')
    assert {'FCOSHead', 'ATSSHead', 'GFLHead'} <= set(reused)
    # subclasses that change assignment or loss take the safe path
    for name in ('VFNetHead', 'TOODHead', 'PAAHead', 'AutoAssignHead',
                 'CenterNetUpdateHead', 'DDODHead', 'NASFCOSHead'):
        if name in HEADS and name not in ('NASFCOSHead', ):
            assert loss_path(HEADS[name]) == 'per_approximation', name
    for name in reused:
        cls = HEADS[name]
        assert any(
            issubclass(cls, base) and all(
                getattr(cls, m) is getattr(base, m) for m in methods)
            for base, methods in REUSED_TARGET_FAMILIES), name


def test_every_other_dense_head_takes_the_per_approximation_path():
    paths = {name: loss_path(cls) for name, cls in HEADS.items()}
    assert paths['RTMDetSepBNHead'] == 'per_approximation'
    assert set(paths.values()) <= {'stacked', 'reused_targets',
                                   'per_approximation'}
