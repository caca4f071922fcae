"""Switches SSKD's training phases on a schedule."""
import logging
from bisect import bisect_right
from typing import Optional, Sequence

from mmdet.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.runner import EpochBasedTrainLoop

from mmera.models.sskd import SSKDDistiller
from mmera.utils.model_wrappers import unwrap_model


@HOOKS.register_module()
class SSKDStageHook(Hook):
    """Puts an :class:`SSKDDistiller` in the phase its schedule asks for.

    With ``stage_boundaries=[b_1, ..., b_P]``, step ``i`` (the iteration, or
    the epoch with ``by_epoch=True``) runs phase ``p`` = the number of
    boundaries ``<= i``: mimic phase 0 for ``i < b_1``, phase ``p`` for
    ``b_p <= i < b_{p+1}`` and the task phase ``P`` from ``b_P`` on. ``i`` is
    0-based and counts completed steps, so ``b_1 = 80`` gives 80 iterations
    of phase 0.

    The phase follows ``runner.iter`` / ``runner.epoch``, which mmengine
    restores before ``before_train``: a run resumed at step ``k`` continues
    in ``phase_for(k)`` with that phase's parts frozen.

    Args:
        stage_boundaries: ``P`` increasing positive steps, one per mimic
            phase (the distiller's ``len(stage_pairs)``).
        by_epoch: Count epochs (an epoch-based loop) instead of iterations.
    """

    priority = 'NORMAL'

    def __init__(self, stage_boundaries: Sequence[int],
                 by_epoch: bool = False) -> None:
        bounds = list(stage_boundaries)
        if not bounds or not all(
                isinstance(b, int) and not isinstance(b, bool) and b > 0
                for b in bounds):
            raise ValueError(
                'SSKDStageHook: stage_boundaries must be a non-empty list of '
                f'positive ints (the step where each mimic phase ends), got '
                f'{stage_boundaries!r}.')
        if any(a >= b for a, b in zip(bounds, bounds[1:])):
            raise ValueError(
                'SSKDStageHook: stage_boundaries must strictly increase '
                f'(every phase runs at least one step), got {bounds}.')
        self.stage_boundaries = bounds
        self.by_epoch = by_epoch

    def phase_for(self, step: int) -> int:
        """The phase of step ``step`` (0-based completed iterations/epochs)."""
        return bisect_right(self.stage_boundaries, step)

    def before_train(self, runner) -> None:
        """Checks the schedule against the model and the loop; sets the
        phase of the (possibly resumed) starting step."""
        model = self._distiller(runner)
        if len(self.stage_boundaries) != model.num_pairs:
            raise ValueError(
                f'SSKDStageHook: {len(self.stage_boundaries)} '
                f'stage_boundaries for {model.num_pairs} stage pairs '
                f'{model.stage_pairs}; give one boundary per pair.')
        epoch_loop = isinstance(runner.train_loop, EpochBasedTrainLoop)
        if self.by_epoch and not epoch_loop:
            raise ValueError(
                'SSKDStageHook: by_epoch=True needs an epoch-based train '
                'loop; give iteration boundaries with by_epoch=False.')
        total = runner.max_epochs if self.by_epoch else runner.max_iters
        if self.stage_boundaries[-1] >= total:
            print_log(
                f'SSKDStageHook: the task phase starts at step '
                f'{self.stage_boundaries[-1]} but training stops at {total}: '
                'the detection head will not be trained.',
                logger='current', level=logging.WARNING)
        self._switch(runner, model, force=True)

    def before_train_iter(self,
                          runner,
                          batch_idx: int,
                          data_batch: Optional[dict] = None) -> None:
        """Moves to the next phase when its boundary is reached."""
        self._switch(runner, self._distiller(runner))

    def _switch(self, runner, model: SSKDDistiller,
                force: bool = False) -> None:
        step = runner.epoch if self.by_epoch else runner.iter
        phase = self.phase_for(step)
        if force or model.phase != phase:
            model.set_phase(phase)
            unit = 'epoch' if self.by_epoch else 'iteration'
            runner.logger.info(
                f'SSKD: {unit} {step}: phase {phase}/{model.num_pairs}: '
                f'{model.describe_phase(phase)}')

    @staticmethod
    def _distiller(runner) -> SSKDDistiller:
        model = unwrap_model(runner.model)
        if not isinstance(model, SSKDDistiller):
            raise ValueError(
                'SSKDStageHook switches the phases of an SSKDDistiller, but '
                f'the model is a {type(model).__name__}; set '
                'model.type="SSKDDistiller" or remove the hook.')
        return model
