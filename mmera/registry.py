"""mmera's registries: children of mmdet's, in the scope ``mmera``.

mmera registers its components in mmdet's registries, so configs with
``default_scope = 'mmdet'`` and plain type names build them. These children
exist for configs that inherit from a packaged mmera config
(``_base_ = 'mmera::era/<config>.py'``): mmengine tags every typed dict of
such a base with ``_scope_='mmera'`` and builds it from the registry of that
scope, which it finds by importing ``mmera.registry`` and searching the
registry tree. The children are empty; a lookup falls through to mmdet's
registry (and on to mmengine's), where everything is. Each child names a
location, so a lookup imports the mmera module that registers the
components first.
"""
from mmdet import registry as mmdet_registry
from mmengine.registry import Registry

SCOPE = 'mmera'


def _child(parent: Registry, location: str = 'mmera') -> Registry:
    """The child of one of mmdet's registries in the scope ``mmera``.

    Every child needs a location: with none, mmengine would fall back to
    calling ``mmera.utils.register_all_modules``, which mmera does not have.
    ``mmera`` itself imports (and so registers) every component.
    """
    return Registry(parent.name, parent=parent, scope=SCOPE,
                    locations=[location])


RUNNERS = _child(mmdet_registry.RUNNERS, 'mmera.engine')
RUNNER_CONSTRUCTORS = _child(mmdet_registry.RUNNER_CONSTRUCTORS)
LOOPS = _child(mmdet_registry.LOOPS)
HOOKS = _child(mmdet_registry.HOOKS, 'mmera.engine')
DATASETS = _child(mmdet_registry.DATASETS, 'mmera.datasets')
DATA_SAMPLERS = _child(mmdet_registry.DATA_SAMPLERS)
TRANSFORMS = _child(mmdet_registry.TRANSFORMS)
MODELS = _child(mmdet_registry.MODELS, 'mmera.models')
MODEL_WRAPPERS = _child(mmdet_registry.MODEL_WRAPPERS)
WEIGHT_INITIALIZERS = _child(mmdet_registry.WEIGHT_INITIALIZERS)
TASK_UTILS = _child(mmdet_registry.TASK_UTILS, 'mmera.models')
OPTIMIZERS = _child(mmdet_registry.OPTIMIZERS)
OPTIM_WRAPPERS = _child(mmdet_registry.OPTIM_WRAPPERS, 'mmera.engine')
OPTIM_WRAPPER_CONSTRUCTORS = _child(mmdet_registry.OPTIM_WRAPPER_CONSTRUCTORS)
PARAM_SCHEDULERS = _child(mmdet_registry.PARAM_SCHEDULERS)
METRICS = _child(mmdet_registry.METRICS)
EVALUATOR = _child(mmdet_registry.EVALUATOR)
VISUALIZERS = _child(mmdet_registry.VISUALIZERS)
VISBACKENDS = _child(mmdet_registry.VISBACKENDS)
LOG_PROCESSORS = _child(mmdet_registry.LOG_PROCESSORS)

__all__ = [
    'SCOPE', 'RUNNERS', 'RUNNER_CONSTRUCTORS', 'LOOPS', 'HOOKS', 'DATASETS',
    'DATA_SAMPLERS', 'TRANSFORMS', 'MODELS', 'MODEL_WRAPPERS',
    'WEIGHT_INITIALIZERS', 'TASK_UTILS', 'OPTIMIZERS', 'OPTIM_WRAPPERS',
    'OPTIM_WRAPPER_CONSTRUCTORS', 'PARAM_SCHEDULERS', 'METRICS', 'EVALUATOR',
    'VISUALIZERS', 'VISBACKENDS', 'LOG_PROCESSORS'
]
