"""ERA (Expandable Residual Approximation): ERADistiller, MBRNet and
TeacherHeadReuse (TWI)."""
from .era_distiller import ERADistiller
from .mbrnet import MBRNet
from .teacher_head_reuse import TeacherHeadReuse

__all__ = ['ERADistiller', 'MBRNet', 'TeacherHeadReuse']
