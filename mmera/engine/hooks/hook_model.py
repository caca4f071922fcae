"""The model a hook works on, checked for what the hook uses."""
from typing import Sequence

from torch import nn

from mmera.utils.model_wrappers import unwrap_model


def model_for_hook(runner, hook: str, needs: Sequence[str],
                   fits: str) -> nn.Module:
    """Returns the runner's model (unwrapped) if it has what ``hook`` uses.

    Hooks call this when training starts, so a hook on a model it does not
    fit refuses before the first step instead of failing half-way through a
    run (or, worse, reading an attribute of the same name that means
    something else).

    Args:
        runner: The mmengine runner.
        hook: The hook's name, for the message.
        needs: Attribute names the hook reads or calls on the model.
        fits: Which models have them, for the message (e.g.
            ``'ERADistiller'``).

    Returns:
        nn.Module: The model inside DDP/TTA wrappers.

    Raises:
        TypeError: Naming the model, what it lacks and the fix.
    """
    model = unwrap_model(runner.model)
    missing = [name for name in needs if not hasattr(model, name)]
    if missing:
        raise TypeError(
            f'{hook} works on a model with {", ".join(needs)} ({fits}), but '
            f'the model is a {type(model).__name__}, which has no '
            f'{", ".join(missing)}. Remove {hook} from custom_hooks or use '
            f'it with {fits}.')
    return model
