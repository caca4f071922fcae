"""One method's training-step time and deployed inference cost.

Run by ``tools/benchmark/methods.py`` in a child process per method (so the
timings do not share a process); see that script for what is measured.
"""
import argparse
import os.path as osp
import statistics
import sys
import time
from typing import Dict, List

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
from methods import config_of

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


def fixed_batch(cfg: Config, model: nn.Module) -> dict:
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
    """Step times (ms) at ``points`` evenly spread schedule iterations."""
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
    sys.path.insert(0, osp.join(osp.dirname(osp.dirname(
        osp.abspath(__file__))), 'analysis'))
    from reskd_cost import reskd_flops_per_image  # noqa: E402
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


def measure(args: argparse.Namespace) -> Dict:
    """Builds the method's model and measures it (see the module doc)."""
    init_default_scope('mmdet')
    torch.manual_seed(0)
    cfg = Config.fromfile(config_of(args.single, args.data))
    if 'teacher_ckpt' in cfg.model:
        cfg.model.teacher_ckpt = args.teacher_ckpt
    model = MODELS.build(cfg.model)
    model.init_weights()
    if args.checkpoint:  # trained weights: ResKD's skipping depends on them
        load_checkpoint(model, args.checkpoint, map_location='cpu',
                        strict=True, logger='silent')
    size = max(cfg.get('img_scale', (320, 320)))
    deployed = deployed_detector(model)
    params = sum(p.numel() for p in deployed.parameters())
    if hasattr(model, 'res_students'):  # ResKD ships its res-students too
        params += sum(p.numel() for p in model.res_students.parameters())
    result = dict(gflops=detector_gflops(deployed, size),
                  params_m=params / 1e6)
    if args.single == 'reskd':
        result.update(reskd_adaptive_cost(model, cfg, size))
    data = fixed_batch(cfg, model)
    result['times_ms'] = time_steps(model, cfg, data, args.iters,
                                    args.points)
    return result
