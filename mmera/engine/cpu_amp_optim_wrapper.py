"""Mixed-precision training on CPU (bfloat16 autocast)."""
from contextlib import contextmanager
from typing import Iterator

import torch
from mmdet.registry import OPTIM_WRAPPERS
from mmengine.optim import OptimWrapper
from torch import nn


@OPTIM_WRAPPERS.register_module()
class CPUAmpOptimWrapper(OptimWrapper):
    """Optimizer wrapper that runs the loss forward under CPU autocast.

    mmengine's ``AmpOptimWrapper`` asserts an accelerator, so ``--amp`` on a
    CPU machine would crash. bfloat16 keeps float32's exponent range, so no
    loss scaling is needed: parameters and gradients stay float32 and only the
    forward's matmuls/convolutions run in bfloat16.

    Args:
        dtype: The autocast dtype, ``'bfloat16'`` (default) or ``'float16'``.
        **kwargs: Passed to :class:`mmengine.optim.OptimWrapper`.
    """

    def __init__(self, dtype: str = 'bfloat16', **kwargs) -> None:
        if dtype not in ('bfloat16', 'float16'):
            raise ValueError(f'CPUAmpOptimWrapper: dtype must be "bfloat16" '
                             f'or "float16", got {dtype!r}.')
        super().__init__(**kwargs)
        self.cast_dtype = getattr(torch, dtype)

    @contextmanager
    def optim_context(self, model: nn.Module) -> Iterator[None]:
        """Enables CPU autocast around the data preprocessing and loss."""
        with super().optim_context(model), torch.autocast(
                device_type='cpu', dtype=self.cast_dtype):
            yield
