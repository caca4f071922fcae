"""Training-loop components: optimizer wrappers and hooks."""
from .cpu_amp_optim_wrapper import CPUAmpOptimWrapper
from .hooks import AlphaSweepHook, DistillLossWarmupHook, ExportStudentHook

__all__ = [
    'AlphaSweepHook', 'CPUAmpOptimWrapper', 'DistillLossWarmupHook',
    'ExportStudentHook'
]
