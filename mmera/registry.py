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
from mmdet.registry import DATA_SAMPLERS as MMDET_DATA_SAMPLERS
from mmdet.registry import DATASETS as MMDET_DATASETS
from mmdet.registry import EVALUATOR as MMDET_EVALUATOR
from mmdet.registry import HOOKS as MMDET_HOOKS
from mmdet.registry import LOG_PROCESSORS as MMDET_LOG_PROCESSORS
from mmdet.registry import LOOPS as MMDET_LOOPS
from mmdet.registry import METRICS as MMDET_METRICS
from mmdet.registry import MODEL_WRAPPERS as MMDET_MODEL_WRAPPERS
from mmdet.registry import MODELS as MMDET_MODELS
from mmdet.registry import \
    OPTIM_WRAPPER_CONSTRUCTORS as MMDET_OPTIM_WRAPPER_CONSTRUCTORS
from mmdet.registry import OPTIM_WRAPPERS as MMDET_OPTIM_WRAPPERS
from mmdet.registry import OPTIMIZERS as MMDET_OPTIMIZERS
from mmdet.registry import PARAM_SCHEDULERS as MMDET_PARAM_SCHEDULERS
from mmdet.registry import \
    RUNNER_CONSTRUCTORS as MMDET_RUNNER_CONSTRUCTORS
from mmdet.registry import RUNNERS as MMDET_RUNNERS
from mmdet.registry import TASK_UTILS as MMDET_TASK_UTILS
from mmdet.registry import TRANSFORMS as MMDET_TRANSFORMS
from mmdet.registry import VISBACKENDS as MMDET_VISBACKENDS
from mmdet.registry import VISUALIZERS as MMDET_VISUALIZERS
from mmdet.registry import \
    WEIGHT_INITIALIZERS as MMDET_WEIGHT_INITIALIZERS
from mmengine.registry import Registry

SCOPE = 'mmera'

# Every child needs a location: with none, mmengine would fall back to
# calling ``mmera.utils.register_all_modules``, which mmera does not have.
# ``mmera`` itself imports (and so registers) every component.
_ALL = ['mmera']

RUNNERS = Registry('runner', parent=MMDET_RUNNERS, scope=SCOPE,
                   locations=['mmera.engine'])
RUNNER_CONSTRUCTORS = Registry('runner constructor',
                               parent=MMDET_RUNNER_CONSTRUCTORS, scope=SCOPE,
                               locations=_ALL)
LOOPS = Registry('loop', parent=MMDET_LOOPS, scope=SCOPE, locations=_ALL)
HOOKS = Registry('hook', parent=MMDET_HOOKS, scope=SCOPE,
                 locations=['mmera.engine'])

DATASETS = Registry('dataset', parent=MMDET_DATASETS, scope=SCOPE,
                    locations=['mmera.datasets'])
DATA_SAMPLERS = Registry('data sampler', parent=MMDET_DATA_SAMPLERS,
                         scope=SCOPE, locations=_ALL)
TRANSFORMS = Registry('transform', parent=MMDET_TRANSFORMS, scope=SCOPE,
                      locations=_ALL)

MODELS = Registry('model', parent=MMDET_MODELS, scope=SCOPE,
                  locations=['mmera.models'])
MODEL_WRAPPERS = Registry('model_wrapper', parent=MMDET_MODEL_WRAPPERS,
                          scope=SCOPE, locations=_ALL)
WEIGHT_INITIALIZERS = Registry('weight initializer',
                               parent=MMDET_WEIGHT_INITIALIZERS, scope=SCOPE,
                               locations=_ALL)
TASK_UTILS = Registry('task util', parent=MMDET_TASK_UTILS, scope=SCOPE,
                      locations=['mmera.models'])

OPTIMIZERS = Registry('optimizer', parent=MMDET_OPTIMIZERS, scope=SCOPE,
                      locations=_ALL)
OPTIM_WRAPPERS = Registry('optim_wrapper', parent=MMDET_OPTIM_WRAPPERS,
                          scope=SCOPE, locations=['mmera.engine'])
OPTIM_WRAPPER_CONSTRUCTORS = Registry(
    'optimizer wrapper constructor',
    parent=MMDET_OPTIM_WRAPPER_CONSTRUCTORS,
    scope=SCOPE,
    locations=_ALL)
PARAM_SCHEDULERS = Registry('parameter scheduler',
                            parent=MMDET_PARAM_SCHEDULERS, scope=SCOPE,
                            locations=_ALL)

METRICS = Registry('metric', parent=MMDET_METRICS, scope=SCOPE,
                   locations=_ALL)
EVALUATOR = Registry('evaluator', parent=MMDET_EVALUATOR, scope=SCOPE,
                     locations=_ALL)

VISUALIZERS = Registry('visualizer', parent=MMDET_VISUALIZERS, scope=SCOPE,
                       locations=_ALL)
VISBACKENDS = Registry('vis_backend', parent=MMDET_VISBACKENDS, scope=SCOPE,
                       locations=_ALL)
LOG_PROCESSORS = Registry('log_processor', parent=MMDET_LOG_PROCESSORS,
                          scope=SCOPE, locations=_ALL)

__all__ = [
    'SCOPE', 'RUNNERS', 'RUNNER_CONSTRUCTORS', 'LOOPS', 'HOOKS', 'DATASETS',
    'DATA_SAMPLERS', 'TRANSFORMS', 'MODELS', 'MODEL_WRAPPERS',
    'WEIGHT_INITIALIZERS', 'TASK_UTILS', 'OPTIMIZERS', 'OPTIM_WRAPPERS',
    'OPTIM_WRAPPER_CONSTRUCTORS', 'PARAM_SCHEDULERS', 'METRICS', 'EVALUATOR',
    'VISUALIZERS', 'VISBACKENDS', 'LOG_PROCESSORS'
]
