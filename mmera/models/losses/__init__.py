"""Registered distillation losses."""
from .decorrelation_loss import DecorrelationLoss
from .pearson_feature_loss import PearsonFeatureLoss

__all__ = ['DecorrelationLoss', 'PearsonFeatureLoss']
