"""Small helpers shared by the distillers and their building blocks."""
from torch import nn


def freeze(module: nn.Module) -> nn.Module:
    """Stops gradients to ``module``'s parameters and puts it in eval mode."""
    for param in module.parameters():
        param.requires_grad_(False)
    return module.eval()
