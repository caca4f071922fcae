"""Evaluates ERA's ST inference mode for several blend factors."""
import json
import os.path as osp
from typing import Dict, Optional, Sequence

import torch
from mmdet.registry import HOOKS
from mmengine.dist import is_main_process
from mmengine.hooks import Hook

from mmera.utils.atomic_files import write_text_atomic

from .hook_model import model_for_hook


@HOOKS.register_module()
class AlphaSweepHook(Hook):
    """After each validation, evaluates ST-mode for every ``alpha``.

    ST-mode blends the student's head outputs with the TWI head's on MBRNet's
    last approximation: ``(1 - alpha) * S + alpha * T``. For each alpha the
    hook runs the validation set through the model and the validation
    evaluator (COCO AP), logs ``st_alpha=<a>/<metric>`` and writes
    ``work_dir/alpha_sweep.json`` (all evaluations so far, per iteration).
    The model's inference mode is restored afterwards.

    Args:
        alphas: Blend factors in [0, 1]. alpha=0 is the student alone.
        metric: The metric that picks the best alpha in the log line.
    """

    priority = 'LOW'

    def __init__(self,
                 alphas: Sequence[float] = (0.0, 0.1, 0.3, 0.5, 1.0),
                 metric: str = 'coco/bbox_mAP') -> None:
        bad = [a for a in alphas if not 0.0 <= float(a) <= 1.0]
        if bad or not alphas:
            raise ValueError(f'AlphaSweepHook: alphas must be a non-empty '
                             f'list of values in [0, 1], got {list(alphas)}.')
        self.alphas = [float(a) for a in alphas]
        self.metric = metric
        self.history: list = []

    def before_train(self, runner) -> None:
        """Refuses a model without ST inference before the first step."""
        self._model(runner)

    def after_val_epoch(self,
                        runner,
                        metrics: Optional[Dict[str, float]] = None) -> None:
        """Evaluates ST-mode for every alpha; logs and writes the results."""
        model = self._model(runner)
        saved = (model.inference_mode, model.alpha)
        results = {}
        try:
            for alpha in self.alphas:
                if alpha == 0.0 and saved[0] == 'S' and metrics:
                    # ST at alpha 0 is the student alone: the validation that
                    # just ran already measured it.
                    results[alpha] = {k: float(v) for k, v in metrics.items()
                                      if isinstance(v, (int, float))}
                    continue
                model.set_inference_mode('ST', alpha)
                results[alpha] = self._evaluate(runner)
        finally:
            model.set_inference_mode(*saved)
        scores = {a: r.get(self.metric, float('nan')) for a, r in
                  results.items()}
        best = max(scores, key=lambda a: scores[a])
        for alpha, res in results.items():
            for name, value in res.items():
                runner.message_hub.update_scalar(f'val/st_alpha={alpha}/{name}',
                                                 value)
        runner.logger.info('ST-mode sweep ' + ', '.join(
            f'alpha={a}: {self.metric}={s:.4f}' for a, s in scores.items()) +
                           f' (best alpha={best})')
        self.history.append(
            dict(iter=runner.iter, results={str(a): r
                                            for a, r in results.items()},
                 best_alpha=best))
        if is_main_process():
            write_text_atomic(osp.join(runner.work_dir, 'alpha_sweep.json'),
                              json.dumps(self.history, indent=1))

    @staticmethod
    def _model(runner):
        # ST blends with `alpha`: ResKD's set_inference_mode(mode, skip_rule)
        # has the same name but no alpha, so both are required.
        return model_for_hook(
            runner, 'AlphaSweepHook',
            ['set_inference_mode', 'inference_mode', 'alpha'],
            'ERADistiller (ST inference: (1 - alpha) * S + alpha * T)')

    @staticmethod
    @torch.no_grad()
    def _evaluate(runner) -> Dict[str, float]:
        # The validation loop's own dataloader and evaluator, run directly so
        # that no other hook (checkpointing, logging) fires again.
        loop = runner.val_loop
        runner.model.eval()
        for data_batch in loop.dataloader:
            outputs = runner.model.val_step(data_batch)
            loop.evaluator.process(data_samples=outputs, data_batch=data_batch)
        metrics = loop.evaluator.evaluate(len(loop.dataloader.dataset))
        return {k: float(v) for k, v in metrics.items()
                if isinstance(v, (int, float))}
