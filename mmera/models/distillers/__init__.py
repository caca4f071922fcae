"""Distillers: detectors that train a student, with a teacher or without."""
from .base_distiller import BaseDistiller
from .crosskd_distiller import CrossKDDistiller
from .era_distiller import ERADistiller
from .feature_distiller import FeatureDistiller, FitNetDistiller, PKDDistiller
from .model_config import load_model_config
from .reskd_distiller import ResKDDistiller
from .rkd_distiller import RKDDistiller
from .sskd_distiller import SSKDDistiller
from .trunk_branch_distiller import TrunkBranchDistiller

__all__ = [
    'BaseDistiller', 'CrossKDDistiller', 'ERADistiller', 'FeatureDistiller',
    'FitNetDistiller', 'PKDDistiller', 'RKDDistiller', 'ResKDDistiller',
    'SSKDDistiller', 'TrunkBranchDistiller', 'load_model_config'
]
