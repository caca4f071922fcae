"""Distillers: detectors that train a student with a frozen teacher."""
from .base_distiller import BaseDistiller, load_model_config
from .era_distiller import ERADistiller

__all__ = ['BaseDistiller', 'ERADistiller', 'load_model_config']
