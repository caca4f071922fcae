"""Training-loop components: optimizer wrappers (hooks will live here too)."""
from .cpu_amp_optim_wrapper import CPUAmpOptimWrapper

__all__ = ['CPUAmpOptimWrapper']
