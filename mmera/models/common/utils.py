"""Small helpers shared by the distillers and their building blocks."""
import contextlib
import functools
import logging
from typing import Any, Callable, ContextManager, Sequence, Union

import torch
from mmengine.logging import print_log
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

#: a frozen head's forward precision -> its autocast dtype (None: fp32)
PRECISIONS = {'fp32': None, 'bf16': torch.bfloat16, 'fp16': torch.float16}
#: a precision resolved per device: bf16 where the device runs it natively
AUTO_PRECISION = 'auto'


def freeze(module: nn.Module) -> nn.Module:
    """Stops gradients to ``module``'s parameters and puts it in eval mode."""
    for param in module.parameters():
        param.requires_grad_(False)
    return module.eval()


def freeze_norm_stats(module: nn.Module) -> nn.Module:
    """Puts every BatchNorm in ``module`` in eval mode, the rest as it is.

    For frozen heads that must run their training-mode forward (e.g. FCOS
    scales its boxes by the stride only in eval) without updating the
    teacher's BN statistics.
    """
    for child in module.modules():
        if isinstance(child, _BatchNorm):
            child.eval()
    return module


def check_weight(name: str, value: Union[float, Sequence[float]],
                 owner: str) -> None:
    """Refuses a negative or NaN loss weight, list of weights or other
    option that must be >= 0.

    ``not w >= 0`` rather than ``w < 0``: NaN compares false either way, and
    a NaN weight would turn the loss, then every parameter, NaN.

    Args:
        name: The option's name (e.g. ``'mimic_weight'``).
        value: A number, or a list or tuple of numbers that must all pass.
        owner: The class whose option it is (named in the error).

    Raises:
        ValueError: ``'<owner>: <name> must be >= 0 (non-negative, not
        NaN), got <value>.'``
    """
    is_seq = isinstance(value, (list, tuple))
    if not all(v >= 0 for v in (value if is_seq else [value])):
        shown = list(value) if is_seq else value
        raise ValueError(f'{owner}: {name} must be >= 0 (non-negative, not '
                         f'NaN), got {shown}.')


def check_precision(name: str, precision: str, owner: str) -> str:
    """Refuses a forward precision that is not a key of :data:`PRECISIONS`
    or ``'auto'`` (``'<owner>: <name> must be one of [...]'``); returns
    it."""
    choices = [*PRECISIONS, AUTO_PRECISION]
    if precision not in choices:
        raise ValueError(f'{owner}: {name} must be one of '
                         f'{sorted(choices)}, got {precision!r}.')
    return precision


def resolve_precision(precision: str, device: torch.device) -> str:
    """``precision``, with ``'auto'`` resolved for ``device``: ``'bf16'``
    on a GPU of compute capability 8.0 or more (Ampere and later) and on a
    CPU that oneDNN runs bf16 on, ``'fp32'`` elsewhere (older GPUs only
    emulate bf16, slower than float32)."""
    if precision != AUTO_PRECISION:
        return precision
    return 'bf16' if _native_bf16(device.type, device.index) else 'fp32'


@functools.lru_cache(maxsize=None)
def _native_bf16(device_type: str, index: Any) -> bool:
    if device_type == 'cuda':
        return torch.cuda.get_device_capability(index) >= (8, 0)
    if device_type == 'cpu':
        # a private query of torch's own oneDNN dispatch; absent: fp32
        query = getattr(torch.ops.mkldnn, '_is_mkldnn_bf16_supported', None)
        return bool(query is not None and query())
    return False


class FrozenForward:
    """The forward of a frozen TWI head at its training precision.

    In training the forward (and the backward of the input gradients through
    it) runs under ``torch.autocast`` at the precision, with ``'auto'``
    resolved for the device (:func:`resolve_precision`), and its outputs are
    cast back to float32 for the loss. In eval (T/ST decoding), or at
    ``'fp32'``, it runs as called: under the run's own AMP its outputs stay
    as that autocast made them.

    Some heads hold an op with no kernel at the reduced precision (mmcv's
    deformable convolution has none for bfloat16). Under ``'auto'`` such a
    head runs in float32 from its first training step on, with a warning;
    a stated reduced precision is refused with the fix.

    Args:
        precision: ``'fp32'``, ``'bf16'``, ``'fp16'`` or ``'auto'``.
        owner: The class named in the messages.
    """

    def __init__(self, precision: str, owner: str) -> None:
        self.precision = check_precision('precision', precision, owner)
        self.owner = owner
        #: set once the head turned out to need float32 under 'auto'
        self.needs_fp32 = False

    def __call__(self, forward: Callable[..., Any], inputs: Any,
                 training: bool, device: torch.device, head: str) -> Any:
        """``forward(inputs)`` at the training precision (``head``: the
        head's name, for the messages)."""
        precision = 'fp32' if not training or self.needs_fp32 else \
            resolve_precision(self.precision, device)
        try:
            with _precision_autocast(precision, device):
                outs = forward(inputs)
        except (NotImplementedError, RuntimeError) as e:
            if not _no_kernel_at(e, precision):
                raise
            reason = str(e).strip().split('\n')[0]
            if self.precision != AUTO_PRECISION:
                raise ValueError(
                    f"{self.owner}: the teacher's {head} cannot run at "
                    f'precision {self.precision!r}: {reason}. Set '
                    "twi_precision='auto' (float32 for such a head) or "
                    "'fp32'.") from e
            print_log(f"TWI runs the teacher's {head} in float32 "
                      f"(twi_precision='auto'): {reason}.", logger='current',
                      level=logging.WARNING)
            self.needs_fp32 = True
            return forward(inputs)
        return outs if precision == 'fp32' else to_fp32(outs)


def _no_kernel_at(error: BaseException, precision: str) -> bool:
    """Whether ``error`` is an op without a kernel at ``precision``: its
    message names the dtype (``"deformable_im2col_cpu" not implemented for
    'BFloat16'``)."""
    dtype = {'bf16': 'BFloat16', 'fp16': 'Half'}.get(precision)
    return dtype is not None and dtype in str(error)


def _precision_autocast(precision: str,
                        device: torch.device) -> ContextManager:
    """``torch.autocast`` at ``precision`` on ``device``'s type (a no-op for
    ``'fp32'``)."""
    dtype = PRECISIONS[precision]
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def to_fp32(outputs: Any) -> Any:
    """``outputs`` (tensors, nested in lists/tuples) with every reduced-
    precision floating tensor cast to float32; other values unchanged."""
    if isinstance(outputs, torch.Tensor):
        if outputs.is_floating_point() and outputs.dtype != torch.float32 \
                and outputs.dtype != torch.float64:
            return outputs.float()
        return outputs
    if isinstance(outputs, (list, tuple)):
        return type(outputs)(to_fp32(o) for o in outputs)
    return outputs


def same_settings(a: object, b: object, attrs: Sequence[str]) -> bool:
    """Whether ``a.<attr>`` and ``b.<attr>`` are of one class with equal
    settings (their ``vars``, tensors compared by value) for every attr."""
    for attr in attrs:
        a_obj, b_obj = getattr(a, attr, None), getattr(b, attr, None)
        if type(a_obj) is not type(b_obj):
            return False
        if a_obj is not None and _plain(vars(a_obj)) != _plain(vars(b_obj)):
            return False
    return True


def _plain(value):
    # Tensors and tuples to lists, so settings compare with ``==``.
    if isinstance(value, torch.Tensor):
        return value.tolist()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
