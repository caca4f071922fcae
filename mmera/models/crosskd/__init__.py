"""CrossKD (Cross-Head Knowledge Distillation): CrossKDDistiller."""
from .crosskd_distiller import CrossKDDistiller

__all__ = ['CrossKDDistiller']
