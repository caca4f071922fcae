"""Small helpers shared by the distillers and their building blocks."""
from typing import Sequence, Union

from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm


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
