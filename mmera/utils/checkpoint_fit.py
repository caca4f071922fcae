"""Whether a checkpoint file fits a model, with messages a user can act on."""
import os.path as osp
from typing import Dict, List, Mapping, Tuple

import torch
from torch import nn

# torch < 2.4 cannot allow-list what mmengine checkpoints hold (numpy
# arrays, the message hub): load them as mmengine itself does there.
_SAFE_LOAD = hasattr(torch.serialization, 'add_safe_globals')


def read_checkpoint_weights(path: str, what: str) -> Dict[str, torch.Tensor]:
    """Reads the weights of a checkpoint file, with errors a user can act on.

    Args:
        path: The checkpoint file.
        what: What the file is, for the messages (e.g. ``'teacher
            checkpoint (model.teacher_ckpt)'``).

    Returns:
        dict: The state dict (``state_dict`` of an mmengine checkpoint, or
        the file itself), without a ``module.`` prefix.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ValueError: If it is not a PyTorch file (e.g. a config or text file),
            cannot be read under ``weights_only=True`` or holds no weights.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'{what} not found: {path!r} (resolved to {osp.abspath(path)!r}). '
            'Check the path; relative paths are taken from the current '
            'directory.')
    with open(path, 'rb') as f:
        head = f.read(32)
    # torch.save writes a zip archive (torch >= 1.6) or, legacy, a pickle.
    is_zip = head.startswith(b'PK\x03\x04')
    if not (is_zip or head.startswith(b'\x80')):
        kind = ('a text file' if _looks_like_text(head) else
                'not a file written by torch.save')
        raise ValueError(
            f'{what} {path!r} is not a PyTorch checkpoint: it is {kind} '
            f'(it starts with {head[:20]!r}). Give the .pth file a training '
            'run wrote (e.g. work_dirs/<run>/iter_N.pth), not a config, log '
            'or text file.')
    try:
        # mmap: tensor data stays on disk (only names and shapes are used).
        checkpoint = torch.load(
            path, map_location='cpu', weights_only=_SAFE_LOAD, mmap=is_zip)
    except Exception as err:
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise ValueError(
            f'{what} {path!r} cannot be read with torch.load(weights_only='
            f'True): {reason}. If the file is a truncated copy or download, '
            'fetch it again; if plain mmengine (without mmera) saved it and '
            'you trust it, re-save it once with mmera.utils.'
            'checkpoint_safety.upgrade_checkpoint.') from err
    state = checkpoint.get('state_dict', checkpoint) if isinstance(
        checkpoint, dict) else checkpoint
    if not (isinstance(state, dict) and state
            and all(torch.is_tensor(v) for v in state.values())):
        raise ValueError(
            f'{what} {path!r} holds no model weights (expected a dict of '
            'tensors, or one under "state_dict"; found '
            f'{type(checkpoint).__name__}).')
    return {(k[len('module.'):] if k.startswith('module.') else k): v
            for k, v in state.items()}


def compare_weights(expected: Mapping[str, torch.Tensor],
                    weights: Mapping[str, torch.Tensor]
                    ) -> Tuple[List[str], List[str], List[str]]:
    """What keeps ``weights`` from loading into a module whose state dict is
    ``expected``.

    Returns:
        tuple: The keys of ``expected`` missing from ``weights``, the keys of
        ``weights`` unknown to ``expected``, and the keys of both whose
        shapes differ; all empty when they fit.
    """
    missing = [k for k in expected if k not in weights]
    unknown = [k for k in weights if k not in expected]
    reshaped = [k for k in expected
                if k in weights and weights[k].shape != expected[k].shape]
    return missing, unknown, reshaped


def check_checkpoint_fits(model: nn.Module,
                          path: str,
                          what: str,
                          fix: str,
                          strict: bool = True) -> List[str]:
    """Checks that a checkpoint's weight names and shapes fit ``model``.

    Catches, before any training step, a checkpoint of another architecture
    (other depth, width, classes, FPN levels), a classifier or a distiller
    checkpoint where a detector's was expected, and (through
    :func:`read_checkpoint_weights`) files that are no checkpoint at all.

    Args:
        model: The module the checkpoint is meant for.
        path: The checkpoint file.
        what: What the file is, for the message.
        fix: The sentence telling the user what to do instead.
        strict: Whether weights the model does not have are an error;
            otherwise they are returned.

    Returns:
        list: The checkpoint's weights unknown to the model (non-strict).

    Raises:
        FileNotFoundError, ValueError: Naming the mismatch and ``fix``.
    """
    state = read_checkpoint_weights(path, what)
    expected = model.state_dict()
    missing, unexpected, reshaped = compare_weights(expected, state)
    # mmengine's loader tolerates missing BN step counters, even strictly
    missing = [k for k in missing if not k.endswith('num_batches_tracked')]
    if not missing and not reshaped and not (strict and unexpected):
        return unexpected
    problems = []
    if missing:
        problems.append(f'{len(missing)} of the model\'s {len(expected)} '
                        f'weights are missing (e.g. {missing[0]!r})')
    if reshaped:
        key = reshaped[0]
        problems.append(
            f'{len(reshaped)} have another shape (e.g. {key!r}: '
            f'{tuple(state[key].shape)} in the checkpoint, '
            f'{tuple(expected[key].shape)} in the model)')
    if unexpected:
        problems.append(f'{len(unexpected)} weights of the checkpoint are '
                        f'unknown to the model (e.g. {unexpected[0]!r})')
    raise ValueError(f'{what} {path!r} does not fit the model: ' +
                     '; '.join(problems) +
                     f'. It looks like {_describe_checkpoint(state)}. {fix}')


def _describe_checkpoint(state: Dict[str, torch.Tensor]) -> str:
    keys = list(state)
    if any(k.startswith('student.') for k in keys):
        return ('a distiller checkpoint (its weights are under "student."; '
                'tools/export_student.py extracts the plain student)')
    detector = any(
        k.startswith(('neck.', 'bbox_head.', 'rpn_head.', 'roi_head.'))
        for k in keys)
    classifier = any(
        k.startswith('head.') or {'fc', 'classifier'} & set(k.split('.'))
        for k in keys)
    if not detector and classifier:
        return ('an image-classification checkpoint (a classifier head, no '
                'detection neck or head); to start a detector\'s backbone '
                'from it, set backbone.init_cfg=dict(type="Pretrained", '
                'checkpoint=...) in that detector\'s config and train it')
    if not detector:
        return 'no detector checkpoint (it has no neck or head weights)'
    return ('a detector of another architecture (other depth, width, number '
            'of classes or FPN levels)')


def _looks_like_text(head: bytes) -> bool:
    # No control bytes other than whitespace (UTF-8 text qualifies).
    return all(b in b'\t\n\r' or b >= 32 for b in head)
