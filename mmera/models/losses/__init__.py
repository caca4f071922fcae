"""Registered distillation losses and the shared feature MSE."""
from .decorrelation_loss import DecorrelationLoss
from .feature_mse import (
                          DEFAULT_FEATURE_NORM,
                          FEATURE_NORMS,
                          check_feature_norm,
                          feature_mse,
                          teacher_level_norms,
)
from .pearson_feature_loss import PearsonFeatureLoss

__all__ = [
    'DEFAULT_FEATURE_NORM', 'DecorrelationLoss', 'FEATURE_NORMS',
    'PearsonFeatureLoss', 'check_feature_norm', 'feature_mse',
    'teacher_level_norms'
]
