"""RKD (Residual Knowledge Distillation): RKDDistiller, ResidualSplitFPN."""
from .residual_split_fpn import ResidualSplitFPN
from .rkd_distiller import RKDDistiller

__all__ = ['RKDDistiller', 'ResidualSplitFPN']
