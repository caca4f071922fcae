"""Registered models: distillers, their building blocks and losses."""
from .distillers import (BaseDistiller, CrossKDDistiller, ERADistiller,
                         FeatureDistiller, FitNetDistiller, PKDDistiller,
                         ResKDDistiller, RKDDistiller, SSKDDistiller,
                         TrunkBranchDistiller, load_model_config)
from .feature_adapter import FeatureAdapter
from .losses import DecorrelationLoss, PearsonFeatureLoss
from .mbrnet import MBRNet
from .teacher_head_reuse import TeacherHeadReuse

__all__ = [
    'BaseDistiller', 'CrossKDDistiller', 'DecorrelationLoss', 'ERADistiller', 'FeatureAdapter',
    'FeatureDistiller', 'FitNetDistiller', 'MBRNet', 'PKDDistiller',
    'PearsonFeatureLoss', 'RKDDistiller', 'ResKDDistiller', 'SSKDDistiller',
    'TeacherHeadReuse', 'TrunkBranchDistiller', 'load_model_config'
]
