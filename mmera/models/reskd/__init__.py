"""ResKD (Residual-Guided Knowledge Distillation): ResKDDistiller,
ResStudent."""
from .res_student import ResStudent
from .reskd_distiller import ResKDDistiller

__all__ = ['ResKDDistiller', 'ResStudent']
