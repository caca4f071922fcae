"""SSKD (stage-by-stage knowledge distillation): SSKDDistiller."""
from .sskd_distiller import SSKDDistiller

__all__ = ['SSKDDistiller']
