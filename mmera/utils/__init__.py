"""Utilities: checkpoint loading safety and command-line helpers."""
from .checkpoint_safety import (
                                checkpoint_safe_globals,
                                register_checkpoint_safe_globals,
                                upgrade_checkpoint,
)

__all__ = [
    'checkpoint_safe_globals', 'register_checkpoint_safe_globals',
    'upgrade_checkpoint'
]
