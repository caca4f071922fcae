"""Exports a distiller checkpoint's student as a plain mmdet checkpoint."""
import os
import os.path as osp
from collections import OrderedDict
from typing import Dict, Optional

import torch
from torch import Tensor

from mmera.utils.atomic_files import atomic_output


def extract_student_state(
        state_dict: Dict[str, Tensor],
        prefix: str = 'student.') -> 'OrderedDict[str, Tensor]':
    """Returns the student's weights with the distiller prefix removed.

    Args:
        state_dict: A distiller's state dict (``student.*``, ``mbrnet.*``,
            ``twi.*`` ...).
        prefix: The student's prefix in it.

    Returns:
        OrderedDict: Keys as the stock student detector names them.

    Raises:
        KeyError: If no key carries ``prefix`` (not a distiller checkpoint).
    """
    student = OrderedDict((k[len(prefix):], v) for k, v in state_dict.items()
                          if k.startswith(prefix))
    if not student:
        sample = ', '.join(list(state_dict)[:3])
        raise KeyError(f'no "{prefix}*" weights in this checkpoint (keys '
                       f'start like: {sample}); is it a distiller checkpoint?')
    return student


def save_atomic(obj: dict, path: str) -> None:
    """``torch.save`` to a temporary file, then rename: never half-written."""
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with atomic_output(path) as tmp_path:
        torch.save(obj, tmp_path)


def export_student_checkpoint(checkpoint: dict,
                              out: str,
                              extra_meta: Optional[dict] = None) -> dict:
    """Writes the student of a distiller checkpoint to ``out``.

    The result is ``{'meta': ..., 'state_dict': ...}``, which stock mmdet
    loads with the stock student config (``tools/test.py``, ``load_from``,
    ``init_detector``).

    Args:
        checkpoint: A loaded distiller checkpoint (with ``state_dict``).
        out: Output path.
        extra_meta: Added to the copied ``meta``.

    Returns:
        dict: What was saved.
    """
    state = checkpoint.get('state_dict', checkpoint)
    meta = dict(checkpoint.get('meta', {}))
    # Drop training-run details that do not describe the student.
    for key in ('cfg', 'hook_msgs', 'message_hub'):
        meta.pop(key, None)
    meta.update(extra_meta or {})
    exported = dict(meta=meta, state_dict=extract_student_state(state))
    save_atomic(exported, out)
    return exported
