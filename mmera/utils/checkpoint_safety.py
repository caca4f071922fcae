"""Lets ``torch.load(weights_only=True)`` read the checkpoints mmengine writes.

Since torch 2.6, ``torch.load`` defaults to ``weights_only=True``: it only
rebuilds tensors, containers and primitive types, plus the globals someone
explicitly allow-lists. mmengine 0.10.7 calls ``torch.load`` without saying
otherwise, so ``--resume`` and ``load_from`` fail on the checkpoints it writes.
What those checkpoints hold beyond tensors (measured with
``torch.serialization.get_unsafe_globals_in_checkpoint`` on a RetinaNet
checkpoint written by ``tools/train.py``):

* numpy arrays and scalars (``_reconstruct``, ``ndarray``, ``dtype``,
  ``scalar``): the message hub's log history and runtime info;
* ``mmengine.logging.HistoryBuffer`` objects in ``message_hub.log_scalars``;
* ``builtins.getattr``: ``HistoryBuffer.__getstate__`` stores its class-level
  statistics functions, which pickle as ``getattr(HistoryBuffer, 'min')``.

Allow-listing ``getattr`` would reopen arbitrary code execution (``getattr``
reaches ``__globals__`` and from there ``eval``), so instead of allow-listing
the ``HistoryBuffer`` class with its pickled state we register a pickle
reducer for it (``copyreg``, pickle's own extension registry; mmengine's code
is untouched) that saves only its two arrays and ``max_length`` and rebuilds it
through :func:`rebuild_history_buffer`, the one function we allow-list. The
statistics methods are class-level and re-registered by ``HistoryBuffer``
itself, so nothing is lost.

Checkpoints written by plain mmengine without mmera imported still contain
``getattr`` and keep failing under ``weights_only=True``: re-save them once
with :func:`upgrade_checkpoint` if you trust their source.
"""
import copyreg
from typing import Any, Callable, List, Tuple

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

# numpy moved its core to ``numpy._core`` in 2.0; pickles name whichever
# module the saving numpy had, and torch matches globals by that name.
_np_multiarray = getattr(np, '_core', None)
_np_multiarray = (_np_multiarray.multiarray
                  if _np_multiarray is not None else np.core.multiarray)


_NUMERIC_DTYPE_CLASSES = tuple(
    {type(np.dtype(name))
     for name in ('bool', 'int8', 'int16', 'int32', 'int64', 'uint8',
                  'uint16', 'uint32', 'uint64', 'float16', 'float32',
                  'float64')})


def rebuild_history_buffer(log_history: np.ndarray,
                           count_history: np.ndarray,
                           max_length: int) -> HistoryBuffer:
    """Rebuilds a ``HistoryBuffer`` from the state its reducer saved.

    Args:
        log_history: The logged values.
        count_history: How many samples each logged value averaged.
        max_length: The buffer's capacity.

    Returns:
        HistoryBuffer: A buffer equal to the one that was saved.
    """
    if not (isinstance(log_history, np.ndarray)
            and isinstance(count_history, np.ndarray)
            and isinstance(max_length, int)):
        raise TypeError('A checkpoint holds a malformed HistoryBuffer state: '
                        f'({type(log_history)}, {type(count_history)}, '
                        f'{type(max_length)}); expected two numpy arrays and '
                        'an int.')
    return HistoryBuffer(log_history, count_history, max_length)


def _reduce_history_buffer(
        buffer: HistoryBuffer) -> Tuple[Callable, Tuple[Any, ...]]:
    # Save data only, not the statistics functions (see module docstring).
    return rebuild_history_buffer, (buffer._log_history,
                                    buffer._count_history, buffer.max_length)


def checkpoint_safe_globals() -> List[Any]:
    """Returns the globals mmera allow-lists for ``weights_only`` loading.

    Returns:
        list: numpy's array/scalar reconstruction and the HistoryBuffer
        rebuild function, nothing else.
    """
    return [
        _np_multiarray._reconstruct,
        _np_multiarray.scalar,
        np.ndarray,
        np.dtype,
        # numpy >= 1.25 builds each dtype as an instance of its own class,
        # which torch checks as well: the numeric ones logs hold.
        *_NUMERIC_DTYPE_CLASSES,
        rebuild_history_buffer,
    ]


def register_checkpoint_safe_globals() -> None:
    """Registers the HistoryBuffer reducer and allow-lists the safe globals.

    Idempotent; called when ``mmera`` is imported, so any config with
    ``custom_imports=dict(imports=['mmera'])`` saves and resumes under
    torch >= 2.6 without turning ``weights_only`` off.
    """
    copyreg.pickle(HistoryBuffer, _reduce_history_buffer)
    if hasattr(torch.serialization, 'add_safe_globals'):  # torch >= 2.4
        torch.serialization.add_safe_globals(checkpoint_safe_globals())


def upgrade_checkpoint(src: str, dst: str) -> None:
    """Re-saves a trusted legacy mmengine checkpoint in the safe format.

    Loads ``src`` with ``weights_only=False`` (only do this for checkpoints
    you trust) and saves it to ``dst``, where its HistoryBuffers now pickle
    through :func:`rebuild_history_buffer`.

    Args:
        src: Path of the legacy checkpoint.
        dst: Path to write the upgraded checkpoint to.
    """
    register_checkpoint_safe_globals()
    checkpoint = torch.load(src, map_location='cpu', weights_only=False)
    torch.save(checkpoint, dst)
