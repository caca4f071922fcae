"""mmera: knowledge distillation of object detectors for MMDetection 3.x.

Importing this package (directly or through
``custom_imports=dict(imports=['mmera'], allow_failed_imports=False)``)
registers every mmera component in mmdet's registries and lets
``torch.load(weights_only=True)`` read the checkpoints mmengine writes.
"""
from .utils.checkpoint_safety import register_checkpoint_safe_globals
from .version import __version__

register_checkpoint_safe_globals()

from . import datasets, engine, models  # noqa: E402,F401  (registers components)

__all__ = ['__version__', 'register_checkpoint_safe_globals']
