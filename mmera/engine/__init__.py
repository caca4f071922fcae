"""Training-loop components: optimizer wrappers, hooks and the runner."""
from .cpu_amp_optim_wrapper import CPUAmpOptimWrapper
from .hooks import (AlphaSweepHook, DistillLossWarmupHook, ExportStudentHook,
                    SSKDStageHook)
from .runner import AtomicCheckpointRunner

__all__ = [
    'AlphaSweepHook', 'AtomicCheckpointRunner', 'CPUAmpOptimWrapper',
    'DistillLossWarmupHook', 'ExportStudentHook', 'SSKDStageHook'
]
