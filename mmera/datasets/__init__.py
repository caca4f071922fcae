"""Datasets: the checked COCO dataset and the synthetic set's generator."""
from .checked_coco_dataset import CheckedCocoDataset
from .synthetic_coco import SYNTHETIC_CLASSES, make_synthetic_coco

__all__ = [
    'CheckedCocoDataset', 'SYNTHETIC_CLASSES', 'make_synthetic_coco'
]
