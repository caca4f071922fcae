"""Starting a module (a detection head) from other weights, strictly.

The one loader behind both ways to start a student's head from its
teacher's: ``ERADistiller(init_student_head=True)`` (the teacher module in
the same model) and ``HeadInitHook`` (a checkpoint file). Unlike
``load_state_dict(strict=False)`` or mmengine's ``Pretrained`` init, it
loads all of the module's weights or none, and its error names the first
missing, reshaped and unknown weight, and the setting to change.
"""
from typing import Dict, List, Mapping

from torch import Tensor, nn

from mmera.utils.checkpoint_fit import compare_weights


def load_strictly(module: nn.Module, weights: Mapping[str, Tensor], *,
                  what: str, name: str, prefix: str = '',
                  source: str = 'the checkpoint', target: str = 'the model',
                  fix: str = '') -> int:
    """Copies ``weights`` into ``module``: every weight of the module, with
    its shape, and nothing else; otherwise nothing is copied.

    The copy is by value (``load_state_dict``): the module keeps its own
    parameters, trainable as before, sharing no storage with ``weights``.

    Args:
        module: The module to load (e.g. the student's ``bbox_head``).
        weights: Its new weights, keyed as in ``module.state_dict()``.
        what: The start of the error message: what was loaded into what.
        name: The module's name in the message (e.g. ``'bbox_head'``).
        prefix: Put before each weight's key in the message (the weights'
            prefix where they come from, e.g. ``'bbox_head.'``).
        source: Where ``weights`` come from, in the message.
        target: Where ``module`` is, in the message.
        fix: The setting to change, appended to the message.

    Returns:
        int: The number of weights loaded.

    Raises:
        ValueError: ``'<what>: <n> of the <m> weights of <name> are
            missing (e.g. ...); <n> have another shape (e.g. <key>: <shape>
            in <source>, <shape> in <target>); <n> of its <prefix> weights
            are unknown to the module (e.g. ...). The head must have the
            same class, widths, number of classes and priors as <source>'s;
            nothing was loaded. <fix>'``.
    """
    expected = module.state_dict()
    problems = _mismatches(expected, weights, name, prefix, source, target)
    if problems:
        raise ValueError(
            f'{what}: ' + '; '.join(problems) + '. The head must have the '
            'same class, widths, number of classes and priors as '
            f'{source}\'s; nothing was loaded.' +
            (f' {fix}' if fix else ''))
    module.load_state_dict(dict(weights), strict=True)
    return len(weights)


def _mismatches(expected: Dict[str, Tensor], weights: Mapping[str, Tensor],
                name: str, prefix: str, source: str,
                target: str) -> List[str]:
    """What keeps ``weights`` from loading into a module whose state dict is
    ``expected``, one phrase per kind of mismatch (none: they fit)."""
    missing, unknown, reshaped = compare_weights(expected, weights)
    problems = []
    if not weights:
        problems.append(f'it has no weights under {prefix!r}')
    elif missing:
        problems.append(f'{len(missing)} of the {len(expected)} weights of '
                        f'{name} are missing (e.g. {prefix + missing[0]!r})')
    if reshaped:
        key = reshaped[0]
        problems.append(
            f'{len(reshaped)} have another shape (e.g. {prefix + key!r}: '
            f'{tuple(weights[key].shape)} in {source}, '
            f'{tuple(expected[key].shape)} in {target})')
    if unknown:
        problems.append(f'{len(unknown)} of its {prefix!r} weights are '
                        'unknown to the module (e.g. '
                        f'{prefix + unknown[0]!r})')
    return problems
