"""Helpers shared by the command-line tools in ``tools/``."""
import os.path as osp

import torch
from mmengine.config import Config


def check_file_exists(path: str, what: str) -> None:
    """Exits with a clear message when a file the user named is missing.

    Args:
        path: The path from the command line.
        what: What the file is, for the message (e.g. ``'config file'``).

    Raises:
        SystemExit: If ``path`` is not an existing file.
    """
    if not osp.isfile(path):
        raise SystemExit(f'error: {what} not found: {path!r} (resolved to '
                         f'{osp.abspath(path)!r}). Check the path; relative '
                         'paths are taken from the current directory.')


def apply_amp(cfg: Config) -> None:
    """Switches the config's optimizer wrapper to mixed precision.

    On CUDA this is mmengine's ``AmpOptimWrapper`` (fp16 with dynamic loss
    scaling), as in mmdet. mmengine refuses that wrapper without an
    accelerator, so on CPU it is mmera's ``CPUAmpOptimWrapper`` (bfloat16
    autocast, which needs no loss scaling).

    Args:
        cfg: The full training config; changed in place.
    """
    if torch.cuda.is_available():
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.loss_scale = 'dynamic'
    else:
        cfg.optim_wrapper.type = 'CPUAmpOptimWrapper'
        cfg.optim_wrapper.pop('loss_scale', None)
