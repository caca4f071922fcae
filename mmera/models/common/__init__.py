"""Shared by the distillation methods: BaseDistiller, load_model_config,
FeatureAdapter and load_strictly (the strict head loader)."""
from .base_distiller import BaseDistiller
from .feature_adapter import FeatureAdapter
from .head_init import load_strictly
from .model_config import load_model_config

__all__ = [
    'BaseDistiller', 'FeatureAdapter', 'load_model_config', 'load_strictly'
]
