"""Converters from distiller checkpoints to deployable detectors."""
from .student_export import export_student_checkpoint, extract_student_state

__all__ = ['export_student_checkpoint', 'extract_student_state']
