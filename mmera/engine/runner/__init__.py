"""Registered MMEngine runners."""
from .mmera_runner import MMERARunner

__all__ = ['MMERARunner']
