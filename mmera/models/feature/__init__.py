"""FPN feature imitation (FitNets, PKD): FeatureDistiller, FitNetDistiller,
PKDDistiller."""
from .feature_distiller import FeatureDistiller, FitNetDistiller, PKDDistiller

__all__ = ['FeatureDistiller', 'FitNetDistiller', 'PKDDistiller']
