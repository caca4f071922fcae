"""Linear warm-up of the distillation losses."""
from typing import Optional

from mmdet.registry import HOOKS
from mmengine.hooks import Hook

from .hook_model import model_for_hook


@HOOKS.register_module()
class DistillLossWarmupHook(Hook):
    """Ramps every distillation loss from 0 to full weight.

    Early in training the student's features are random and the mimic and
    TWI losses can dwarf its detection loss; the factor
    ``min(1, (iter + 1) / warmup_iters)`` (on the distiller's
    ``distill_loss_factor``) lets the student find its feet first. The
    factor follows ``runner.iter``, so a resumed run continues the ramp.

    Args:
        warmup_iters: Iterations until the full weight (>= 1).
    """

    priority = 'NORMAL'

    def __init__(self, warmup_iters: int = 500) -> None:
        if warmup_iters < 1:
            raise ValueError(f'DistillLossWarmupHook: warmup_iters must be '
                             f'>= 1, got {warmup_iters}.')
        self.warmup_iters = warmup_iters

    def before_train(self, runner) -> None:
        """Refuses a model without distillation losses to ramp."""
        self._model(runner)

    def before_train_iter(self,
                          runner,
                          batch_idx: int,
                          data_batch: Optional[dict] = None) -> None:
        """Sets the factor of this iteration."""
        self._model(runner).distill_loss_factor = min(
            1.0, (runner.iter + 1) / self.warmup_iters)

    @staticmethod
    def _model(runner):
        return model_for_hook(runner, 'DistillLossWarmupHook',
                              ['distill_loss_factor'],
                              'a distiller: ERADistiller, FitNetDistiller, '
                              'PKDDistiller, ...')
