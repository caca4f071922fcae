"""Registered MMEngine hooks for distillation runs."""
from .alpha_sweep_hook import AlphaSweepHook
from .distill_loss_warmup_hook import DistillLossWarmupHook
from .export_student_hook import ExportStudentHook
from .head_init_hook import HeadInitHook
from .sskd_stage_hook import SSKDStageHook

__all__ = [
    'AlphaSweepHook', 'DistillLossWarmupHook', 'ExportStudentHook',
    'HeadInitHook', 'SSKDStageHook'
]
