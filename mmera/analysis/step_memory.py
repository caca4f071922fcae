"""The peak memory of a training step (or of any call), on CPU or CUDA.

The peak is the bytes resident before the call (:func:`resident_bytes`:
the models' parameters, buffers and gradients and the optimizer's state)
plus the most the call allocates on top of them (:func:`call_peak_bytes`).
CUDA reads the allocator's peak; CPU reads the allocations and frees that
``torch.profiler`` records, op by op (an op's own transient workspace is
counted at its start, so the CPU figure is close to, not exactly, the
allocator's).
"""
import contextlib
import os
import sys
from typing import Callable, Iterable, Iterator, Optional

import torch
from torch import nn
from torch.profiler import ProfilerActivity, profile


def resident_bytes(modules: Iterable[nn.Module],
                   optimizer: Optional[torch.optim.Optimizer] = None) -> int:
    """Bytes of the distinct parameters, buffers and gradients of
    ``modules`` and of ``optimizer``'s state tensors."""
    tensors = {}
    for module in modules:
        for t in list(module.parameters()) + list(module.buffers()):
            tensors[t.data_ptr()] = t.nbytes
            if t.grad is not None:
                tensors[t.grad.data_ptr()] = t.grad.nbytes
    if optimizer is not None:
        for state in optimizer.state.values():
            for t in state.values():
                if torch.is_tensor(t):
                    tensors[t.data_ptr()] = t.nbytes
    return sum(tensors.values())


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silences file descriptor 2 (the profiler's start/stop lines)."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, 'w') as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def call_peak_bytes(fn: Callable[[], object], device: str = 'cpu') -> int:
    """The most bytes ``fn()`` has allocated at once beyond what was
    allocated before it.

    Args:
        fn: The call (e.g. one ``train_step``).
        device: ``'cpu'`` or a CUDA device.

    Returns:
        int: The peak of the allocations it made and had not freed yet.
    """
    if torch.device(device).type == 'cuda':
        torch.cuda.synchronize(device)
        before = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        fn()
        torch.cuda.synchronize(device)
        return torch.cuda.max_memory_allocated(device) - before
    with _quiet_stderr(), profile(activities=[ProfilerActivity.CPU],
                                  profile_memory=True) as prof:
        fn()
    current = peak = 0
    for event in sorted(prof.events(), key=lambda e: e.time_range.start):
        current += event.self_cpu_memory_usage
        peak = max(peak, current)
    return peak


def step_peak_bytes(model: nn.Module, step: Callable[[], object],
                    optimizer: Optional[torch.optim.Optimizer] = None,
                    extra: Iterable[nn.Module] = (),
                    device: str = 'cpu') -> int:
    """Peak memory of ``step()``: what ``model`` (and the modules in
    ``extra``, e.g. a teacher kept outside its module tree) and
    ``optimizer`` hold, plus the step's peak allocation."""
    resident = resident_bytes([model, *extra], optimizer)
    return resident + call_peak_bytes(step, device)
