"""Helpers shared by the command-line tools in ``tools/``."""
import os.path as osp
from typing import Dict, List, Optional

import torch
from mmengine.config import Config
from torch import nn


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
            path, map_location='cpu', weights_only=True, mmap=is_zip)
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
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    reshaped = [k for k in expected
                if k in state and state[k].shape != expected[k].shape]
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


# The runner for configs that name none (e.g. the COCO configs, which inherit
# mmdet's runtime): checkpoints written atomically, resumed exactly.
DEFAULT_RUNNER = 'mmdet.AtomicCheckpointRunner'


def build_runner(cfg: Config):
    """Builds the config's ``runner_type``, or :data:`DEFAULT_RUNNER`.

    Uses mmdet's runner registry, which also finds mmera's runners and
    mmengine's ``Runner`` (mmengine's own registry finds neither mmdet's nor
    mmera's without a scope prefix).

    Args:
        cfg: The full config; ``runner_type`` is set if missing.

    Returns:
        The runner, whose log says which runner was picked by default.
    """
    from mmdet.registry import RUNNERS
    named = 'runner_type' in cfg
    if not named:
        cfg.runner_type = DEFAULT_RUNNER
    runner = RUNNERS.build(cfg)
    if not named:
        runner.logger.info(
            f'The config sets no runner_type: using {DEFAULT_RUNNER} (atomic '
            "checkpoint writes, exact resume); set runner_type='Runner' for "
            "mmengine's plain Runner.")
    return runner


def check_training_inputs(runner, resume_from: Optional[str] = None) -> None:
    """Pre-flight checks of a built runner, before its first step.

    The teacher checkpoint of a distiller must fit the teacher config
    exactly (it is loaded strictly, but only after the data, optimizer and
    student are set up); a checkpoint named with ``--resume PATH`` must fit
    the model (mmengine would load it non-strictly, leaving the mismatching
    parts untrained).

    Args:
        runner: The built mmengine Runner.
        resume_from: The checkpoint given to ``--resume``, if a path.

    Raises:
        SystemExit: With ``error: ...`` naming the problem and the fix.
    """
    model = unwrap_model(runner.model)
    teacher = getattr(model, 'teacher', None)
    teacher_ckpt = getattr(model, 'teacher_ckpt', None)
    try:
        if (isinstance(teacher, nn.Module) and teacher_ckpt
                and '://' not in str(teacher_ckpt)):
            check_checkpoint_fits(
                teacher, str(teacher_ckpt),
                'teacher checkpoint (model.teacher_ckpt)',
                'Set model.teacher_ckpt to the checkpoint of a detector '
                'trained with the teacher config (model.teacher_config).')
        if resume_from is not None:
            unknown = check_checkpoint_fits(
                model, resume_from, 'checkpoint to resume from',
                'Resume from a checkpoint this config wrote (work_dirs/<run>/'
                'iter_N.pth); to start from other weights use load_from.',
                strict=False)
            if unknown:
                runner.logger.warning(
                    f'{len(unknown)} weights of {resume_from!r} are unknown '
                    f'to the model and ignored (e.g. {unknown[0]!r}).')
    except (FileNotFoundError, ValueError) as err:
        raise SystemExit(f'error: {err}') from err


def unwrap_model(model: nn.Module) -> nn.Module:
    """The model inside DDP/FSDP wrappers and test-time-augmentation."""
    from mmengine.model import BaseTTAModel, is_model_wrapper
    while is_model_wrapper(model) or isinstance(model, BaseTTAModel):
        model = model.module
    return model
