"""Importing mmera makes ``mmera::`` configs resolvable and buildable: mmera
is in mmengine's package table, and the scope ``mmera`` has child registries
of mmdet's that find everything (mmera's components, which stay in mmdet's
registries, and mmdet's and mmengine's) through their parents."""
import mmdet.registry as mmdet_registry
import pytest
from mmengine.config.utils import MODULE2PACKAGE
from mmengine.registry import HOOKS as ROOT_HOOKS
from mmengine.registry import MODELS as ROOT_MODELS
from mmengine.registry import DefaultScope

import mmera
import mmera.registry as mmera_registry

REGISTRIES = [n for n in mmera_registry.__all__ if n != 'SCOPE']


def test_mmera_is_in_mmengines_package_table():
    assert mmera.__name__ in MODULE2PACKAGE
    assert MODULE2PACKAGE['mmera'] == 'mmera'


@pytest.mark.parametrize('name', REGISTRIES)
def test_child_of_mmdets_registry(name):
    child = getattr(mmera_registry, name)
    parent = getattr(mmdet_registry, name)
    assert child.scope == 'mmera'
    assert child.parent is parent
    # the tree mmengine searches for the scope of a `mmera::` base
    assert child._get_root_registry()._search_child('mmera') is child
    # a location each: with none, mmengine would call the missing
    # mmera.utils.register_all_modules
    assert child._locations


def test_every_mmdet_registry_has_a_mmera_child():
    names = {n for n in dir(mmdet_registry)
             if getattr(getattr(mmdet_registry, n), 'scope', None) == 'mmdet'}
    assert names <= set(REGISTRIES), names - set(REGISTRIES)


def test_scope_mmera_finds_mmera_mmdet_and_mmengine_components():
    models = mmera_registry.MODELS
    assert models.get('ERADistiller') is mmdet_registry.MODELS.get(
        'ERADistiller')
    assert models.get('RetinaNet') is mmdet_registry.MODELS.get('RetinaNet')
    assert mmera_registry.DATASETS.get('CheckedCocoDataset') is not None
    assert mmera_registry.RUNNERS.get('MMERARunner') is not None
    assert mmera_registry.TASK_UTILS.get('AnchorGenerator') is not None
    assert mmera_registry.OPTIM_WRAPPERS.get('OptimWrapper') is not None
    with ROOT_MODELS.switch_scope_and_registry('mmera') as registry:
        assert registry is models


def test_a_dict_tagged_scope_mmera_builds():
    """What mmengine does with a typed dict of a ``mmera::`` base."""
    hook = ROOT_HOOKS.build(
        dict(type='DistillLossWarmupHook', warmup_iters=3, _scope_='mmera'))
    assert type(hook).__name__ == 'DistillLossWarmupHook'
    # the scope was switched for the build only
    current = DefaultScope.get_current_instance()
    assert current is None or current.scope_name != 'mmera'
