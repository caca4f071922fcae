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


def load_tool_config(args) -> Config:
    """Loads ``args.config`` as mmdet's tools do.

    Applies ``--launcher`` and ``--cfg-options``, and sets the work directory
    by priority: ``--work-dir`` > the config's ``work_dir`` >
    ``./work_dirs/<config name>``.

    Args:
        args: Parsed arguments with ``config``, ``launcher``,
            ``cfg_options`` and ``work_dir``.

    Returns:
        Config: The config, ready for the Runner.
    """
    check_file_exists(args.config, 'config file')
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    return cfg


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
