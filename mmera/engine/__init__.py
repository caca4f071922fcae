"""Training-loop components: optimizer wrappers, hooks and the runner."""
from .cpu_amp_optim_wrapper import CPUAmpOptimWrapper
from .hooks import (
                    AlphaSweepHook,
                    DistillLossWarmupHook,
                    ExportStudentHook,
                    SSKDStageHook,
)
from .runner import MMERARunner

__all__ = [
    'AlphaSweepHook', 'MMERARunner', 'CPUAmpOptimWrapper',
    'DistillLossWarmupHook', 'ExportStudentHook', 'SSKDStageHook'
]
