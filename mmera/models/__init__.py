"""Registered models: distillers and their building blocks."""
from .distillers import BaseDistiller, ERADistiller
from .mbrnet import MBRNet
from .teacher_head_reuse import TeacherHeadReuse

__all__ = ['BaseDistiller', 'ERADistiller', 'MBRNet', 'TeacherHeadReuse']
