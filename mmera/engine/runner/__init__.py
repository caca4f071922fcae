"""Registered MMEngine runners."""
from .atomic_checkpoint_runner import AtomicCheckpointRunner

__all__ = ['AtomicCheckpointRunner']
