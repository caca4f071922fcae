"""The time of N training steps of a built model on one fixed batch.

:func:`time_train_steps` runs ``model.train_step`` (preprocessing, forward,
losses, backward and optimizer step, as the runner does) on the same batch
again and again: ``warmup`` untimed steps, then ``iters`` timed ones, at
each of the schedule iterations asked (a distiller whose step changes along
its schedule, e.g. SSKD's phases, is timed where the runner would run each
phase). Data loading is left out. :func:`config_step_times` does it for a
config: its model, its optimizer and its first real training batch.
"""
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
from mmdet.registry import HOOKS, MODELS
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.optim import OptimWrapper, build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from torch import nn

#: Untimed steps before each schedule point's timed ones.
WARMUP = 2


def frozen_optim_wrapper(model: nn.Module) -> OptimWrapper:
    """SGD with momentum and weight decay at learning rate 0 over the
    trainable parameters: a step's full cost without moving the weights, so
    the fixed batch's losses cannot diverge over the timed steps."""
    params = [p for p in model.parameters() if p.requires_grad]
    return OptimWrapper(torch.optim.SGD(params, lr=0.0, momentum=0.9,
                                        weight_decay=1e-4))


def schedule_points(max_iters: int, points: int) -> List[int]:
    """``points`` iterations spread evenly over a schedule of
    ``max_iters`` (the middle of each of ``points`` equal parts)."""
    return [int((p + 0.5) / points * max_iters) for p in range(points)]


def time_train_steps(model: nn.Module, data: dict,
                     optim_wrapper: Optional[OptimWrapper] = None,
                     iters: int = 4, warmup: int = WARMUP,
                     at_iters: Sequence[int] = (0, ),
                     before: Optional[Callable[[int], None]] = None
                     ) -> Dict[str, list]:
    """Times ``model.train_step(data, optim_wrapper)``.

    Args:
        model: A built model (an mmengine ``BaseModel``), on its device.
        data: One batch as the data loader yields it (``inputs``,
            ``data_samples``); the model's preprocessor moves it.
        optim_wrapper: Its optimizer (default :func:`frozen_optim_wrapper`).
        iters: Timed steps per schedule point.
        warmup: Untimed steps before them.
        at_iters: The schedule iterations timed (the message hub's
            ``iter`` is set to each, as the runner would).
        before: Called with each iteration before its steps (e.g. to set a
            distiller's phase there).

    Returns:
        dict: ``times_ms`` (``len(at_iters) * iters`` step times) and
        ``log_vars`` (each timed step's logged losses, as floats).
    """
    optim_wrapper = optim_wrapper or frozen_optim_wrapper(model)
    cuda = any(p.is_cuda for p in model.parameters())
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    hub = MessageHub.get_current_instance()
    times, logs = [], []
    model.train()
    for it in at_iters:
        hub.update_info('iter', it)
        if before is not None:
            before(it)
        for step in range(warmup + iters):
            sync()
            start = time.perf_counter()
            log_vars = model.train_step(data, optim_wrapper)
            sync()
            if step >= warmup:
                times.append(1e3 * (time.perf_counter() - start))
                logs.append({k: float(getattr(v, 'detach', lambda: v)())
                             for k, v in log_vars.items()})
    return dict(times_ms=times, log_vars=logs)


def build_model(config: str, teacher_ckpt: Optional[str] = None,
                seed: int = 0,
                random_teacher: bool = False) -> Tuple[Config, nn.Module]:
    """``config`` and its model, built and initialised.

    Args:
        config: The config's path.
        teacher_ckpt: The checkpoint a distiller's teacher loads (default
            the config's).
        seed: The seed of the initialisation.
        random_teacher: Keep a distiller's teacher at random weights (no
            checkpoint read): for costs, where the weights do not count.
    """
    cfg = Config.fromfile(config)
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    torch.manual_seed(seed)
    if teacher_ckpt and 'teacher_ckpt' in cfg.model:
        cfg.model.teacher_ckpt = teacher_ckpt
    model = MODELS.build(cfg.model)
    if random_teacher and hasattr(model, 'use_random_teacher'):
        model.use_random_teacher()
    model.init_weights()
    return cfg, model


def first_batch(cfg: Config) -> dict:
    """The config's first training batch, loaded once (seed 0)."""
    loader_cfg = cfg.train_dataloader.copy()
    loader_cfg.update(num_workers=0, persistent_workers=False)
    return next(iter(Runner.build_dataloader(loader_cfg, seed=0)))


def phase_setter(model: nn.Module,
                 cfg: Config) -> Optional[Callable[[int], None]]:
    """What the config's schedule hooks change in a step at an iteration
    (``SSKDStageHook``: the distiller's phase), for :func:`time_train_steps`'
    ``before``; None when no hook changes it."""
    hooks = [HOOKS.build(h) for h in cfg.get('custom_hooks', [])
             if h['type'] == 'SSKDStageHook']
    if not hooks:
        return None

    def before(it: int) -> None:
        for hook in hooks:
            model.set_phase(hook.phase_for(it))
    return before


def config_step_times(config: str, iters: int = 4, points: int = 2,
                      teacher_ckpt: Optional[str] = None) -> Dict:
    """The training-step times of a config's model on its first real batch,
    with the config's optimizer, at ``points`` schedule iterations.

    Args:
        config: The config file.
        iters: Timed steps per schedule point.
        points: Schedule points (:func:`schedule_points`).
        teacher_ckpt: A distiller's teacher (default: the config's).

    Returns:
        dict: ``times_ms`` and ``max_iters`` (the schedule's iterations).
    """
    cfg, model = build_model(config, teacher_ckpt)
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    max_iters = cfg.train_cfg.max_iters
    timed = time_train_steps(model, first_batch(cfg), optim, iters,
                             at_iters=schedule_points(max_iters, points),
                             before=phase_setter(model, cfg))
    return dict(times_ms=timed['times_ms'], max_iters=max_iters)
