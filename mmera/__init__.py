"""mmera: knowledge distillation of object detectors for MMDetection 3.x.

Importing this package (directly or through
``custom_imports=dict(imports=['mmera'], allow_failed_imports=False)``)
registers every mmera component in mmdet's registries and lets
``torch.load(weights_only=True)`` read the checkpoints mmengine writes.

It also lets configs inherit from the configs an installed mmera ships
(``_base_ = 'mmera::era/<config>.py'``, read from ``mmera/.mim/configs``):
mmengine resolves ``<package>::`` only for the packages in its
``MODULE2PACKAGE`` table, so mmera adds itself there. That has to happen
before the config is read (``Config.fromfile``): a config's own
``custom_imports`` are imported only after its ``_base_`` was resolved.
mmera's ``tools/train.py`` and ``tools/test.py`` import mmera first.
"""
from mmengine.config.utils import MODULE2PACKAGE

from .utils.checkpoint_safety import register_checkpoint_safe_globals
from .version import __version__

register_checkpoint_safe_globals()

# module name -> distribution name; mmengine also requires the package to
# ship ``.mim/model-index.yml``, which the wheel and the sdist do.
MODULE2PACKAGE.setdefault('mmera', 'mmera')

# registers the components (in mmdet's registries) and mmera's child
# registries of scope 'mmera'
from . import datasets, engine, models, registry  # noqa: E402,F401

__all__ = ['__version__', 'register_checkpoint_safe_globals']
