"""One method's training-step time and deployed inference cost.

What ``tools/benchmark/methods.py`` measures per method, in a child process
per method (``tools/benchmark/method_cost.py``): the deployed model's
parameters and FLOPs per image (``mmengine.analysis``, backbone + neck + head,
no NMS) at the set's test size, for ResKD also its sample-adaptive FLOPs over
the validation images, and the training-step times on one fixed real batch at
several points of the schedule.
"""
import time
from typing import Dict, List, Optional, Tuple

import torch
from mmengine.analysis import FlopAnalyzer
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.runner import Runner, load_checkpoint
from torch import nn

import mmera  # noqa: F401  (registers the distillers)
from mmdet.registry import HOOKS, MODELS
from .methods import config_of
from .reskd_flops import reskd_flops_per_image

#: Untimed steps before each schedule point's timed ones.
WARMUP = 2


class _TensorForward(nn.Module):
    """Backbone + neck + head of a detector on a tensor (no NMS)."""

    def __init__(self, detector: nn.Module) -> None:
        super().__init__()
        self.detector = detector

    def forward(self, inputs: torch.Tensor):
        return self.detector._forward(inputs)


def detector_gflops(detector: nn.Module, size: int) -> float:
    """FLOPs (G, multiply-adds as mmengine counts them) of one image."""
    analyzer = FlopAnalyzer(_TensorForward(detector).eval(),
                            (torch.zeros(1, 3, size, size), ))
    analyzer.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    return analyzer.total() / 1e9


def deployed_detector(model: nn.Module) -> nn.Module:
    """The model that ships: the distiller's stock student, or the model."""
    return getattr(model, 'student', model)


def fixed_batch(cfg: Config) -> dict:
    """The first real training batch, loaded once (timings then see no data
    loading; ``train_step`` preprocesses it as in training)."""
    loader_cfg = cfg.train_dataloader.copy()
    loader_cfg.update(num_workers=0, persistent_workers=False)
    loader = Runner.build_dataloader(loader_cfg, seed=0)
    return next(iter(loader))


def schedule_hooks(cfg: Config) -> List:
    """The custom hooks that change what a training step runs (SSKD's phase
    switch); called at each timed schedule point like the runner would."""
    hooks = []
    for hook_cfg in cfg.get('custom_hooks', []):
        if hook_cfg['type'] == 'SSKDStageHook':
            hooks.append(HOOKS.build(hook_cfg))
    return hooks


def time_steps(model: nn.Module, cfg: Config, data: dict, iters: int,
               points: int) -> List[float]:
    """Step times (ms) at ``points`` evenly spread schedule iterations.

    Args:
        model: The method's model.
        cfg: Its config (optimizer, schedule, custom hooks).
        data: The batch (see :func:`fixed_batch`).
        iters: Timed steps per point (after :data:`WARMUP` untimed ones).
        points: Schedule points.

    Returns:
        list[float]: ``points * iters`` step times.
    """
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    max_iters = cfg.train_cfg.max_iters
    hub = MessageHub.get_current_instance()
    hooks = schedule_hooks(cfg)
    times = []
    model.train()
    for p in range(points):
        it = int((p + 0.5) / points * max_iters)
        hub.update_info('iter', it)
        for hook in hooks:  # what SSKDStageHook does at this iteration
            model.set_phase(hook.phase_for(it))
        for step in range(WARMUP + iters):
            start = time.perf_counter()
            model.train_step(data, optim)
            if step >= WARMUP:
                times.append(1e3 * (time.perf_counter() - start))
    return times


def reskd_adaptive_cost(model: nn.Module, cfg: Config, size: int) -> Dict:
    """ResKD's mean FLOPs per validation image under its adaptive rule."""
    loader_cfg = cfg.val_dataloader.copy()
    loader_cfg.update(num_workers=0, persistent_workers=False)
    loader = Runner.build_dataloader(loader_cfg, seed=0)
    model.eval()
    model.set_inference_mode('adaptive')
    depths = []
    with torch.no_grad():
        for data in loader:
            model.test_step(data)
            depths += list(model.last_depths)
    cost = reskd_flops_per_image(model, depths, (size, size))
    return dict(adaptive_gflops=cost['adaptive'] / 1e9,
                all_gflops=cost['all'] / 1e9,
                threshold=f"{model.skip_rule['type']} "
                f"{model.skip_rule['thr']}",
                mean_depth=cost['mean_depth'],
                depth_histogram=cost['depth_histogram'])


def build_model(config: str, teacher_ckpt: Optional[str] = None
                ) -> Tuple[Config, nn.Module]:
    """``config`` and its model, built and initialised (a distiller loads
    its teacher: ``teacher_ckpt``, default the config's)."""
    init_default_scope('mmdet')
    torch.manual_seed(0)
    cfg = Config.fromfile(config)
    if teacher_ckpt and 'teacher_ckpt' in cfg.model:
        cfg.model.teacher_ckpt = teacher_ckpt
    model = MODELS.build(cfg.model)
    model.init_weights()
    return cfg, model


def config_step_times(config: str, iters: int = 4, points: int = 2) -> Dict:
    """The training-step times of any config's model on its first real
    batch (the results table's step ratios).

    Returns:
        dict: ``times_ms`` (:func:`time_steps`) and ``max_iters`` (its
        schedule's iterations).
    """
    cfg, model = build_model(config)
    times = time_steps(model, cfg, fixed_batch(cfg), iters, points)
    return dict(times_ms=times, max_iters=cfg.train_cfg.max_iters)


def measure(method: str, data: str, teacher_ckpt: Optional[str] = None,
            checkpoint: Optional[str] = None, iters: int = 4,
            points: int = 4) -> Dict:
    """Builds ``method``'s model on ``data`` and measures it.

    Args:
        method: A key of :data:`mmera.runs.methods.METHODS`.
        data: The tiny set.
        teacher_ckpt: The teacher checkpoint of a distiller (default: the
            config's).
        checkpoint: The method's trained weights (ResKD's skipping depends
            on them); default: initial weights.
        iters: Timed steps per schedule point.
        points: Schedule points timed.

    Returns:
        dict: ``gflops`` and ``params_m`` of the deployed model,
        ``times_ms`` (the step times), for ResKD also the adaptive cost.
    """
    cfg, model = build_model(config_of(method, data), teacher_ckpt)
    if checkpoint:
        load_checkpoint(model, checkpoint, map_location='cpu', strict=True,
                        logger='silent')
    size = max(cfg.get('img_scale', (320, 320)))
    deployed = deployed_detector(model)
    params = sum(p.numel() for p in deployed.parameters())
    if hasattr(model, 'res_students'):  # ResKD ships its res-students too
        params += sum(p.numel() for p in model.res_students.parameters())
    result = dict(gflops=detector_gflops(deployed, size),
                  params_m=params / 1e6)
    if method == 'reskd':
        result.update(reskd_adaptive_cost(model, cfg, size))
    batch = fixed_batch(cfg)
    result['times_ms'] = time_steps(model, cfg, batch, iters, points)
    return result
