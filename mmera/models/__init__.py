"""Registered models: the distillers, grouped by method (era/, feature/,
crosskd/, rkd/, reskd/, sskd/, trunk_branch/), what they share (common/)
and the losses (losses/)."""
from .common import BaseDistiller, FeatureAdapter, load_model_config
from .crosskd import CrossKDDistiller
from .era import ERADistiller, MBRNet, TeacherHeadReuse
from .feature import FeatureDistiller, FitNetDistiller, PKDDistiller
from .losses import DecorrelationLoss, PearsonFeatureLoss
from .reskd import ResKDDistiller, ResStudent
from .rkd import ResidualSplitFPN, RKDDistiller
from .sskd import SSKDDistiller
from .trunk_branch import PeerBranches, TrunkBranchDistiller

__all__ = [
    'BaseDistiller', 'CrossKDDistiller', 'DecorrelationLoss', 'ERADistiller',
    'FeatureAdapter', 'FeatureDistiller', 'FitNetDistiller', 'MBRNet',
    'PKDDistiller', 'PearsonFeatureLoss', 'PeerBranches', 'RKDDistiller',
    'ResKDDistiller', 'ResStudent', 'ResidualSplitFPN', 'SSKDDistiller',
    'TeacherHeadReuse', 'TrunkBranchDistiller', 'load_model_config'
]
