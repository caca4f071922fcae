"""Writes the plain student checkpoint when training ends."""
import os.path as osp
from typing import Optional

from mmdet.registry import HOOKS
from mmengine.dist import master_only
from mmengine.hooks import EMAHook, Hook
from torch import nn

from mmera.converters import export_student_checkpoint

from .hook_model import model_for_hook


@HOOKS.register_module()
class ExportStudentHook(Hook):
    """Saves ``work_dir/<filename>``: the student alone, loadable by stock
    mmdet with the stock student config (rank 0 only, written atomically).

    With an ``EMAHook`` among the runner's hooks (mmdet's RTMDet configs),
    the exported weights are the EMA ones: those mmdet validates and tests
    (``EMAHook`` swaps them in for every val/test epoch) and those
    mmengine's checkpoints hold as ``state_dict`` (``EMAHook`` swaps them in
    before each save), so the file equals the student of the last
    checkpoint, as ``tools/export_student.py`` gives it. ``EMAHook`` keeps
    the model itself on the raw, trained weights outside val/test epochs
    (``after_train`` runs after the last validation has swapped back), so
    without this the export would be weights no evaluation ever saw.
    Without an ``EMAHook``, the model's own weights are exported. The log
    says which; the file's ``meta.student_weights`` is ``'ema'`` or
    ``'model'``.

    Args:
        filename: Output file name inside the work directory.
    """

    priority = 'LOW'

    def __init__(self, filename: str = 'student_final.pth') -> None:
        self.filename = filename

    def before_train(self, runner) -> None:
        """Refuses a model without a student to export."""
        self._model(runner)

    @master_only
    def after_train(self, runner) -> None:
        """Writes the student checkpoint (EMA weights under an EMAHook)."""
        model = self._model(runner)
        ema_model = self._ema_model(runner)
        if ema_model is not None:
            state_dict, weights = ema_model.state_dict(), 'ema'
            source = 'the EMA weights of EMAHook'
        else:
            state_dict, weights = model.state_dict(), 'model'
            source = 'the model weights'
        out = osp.join(runner.work_dir, self.filename)
        export_student_checkpoint(
            dict(state_dict=state_dict,
                 meta=dict(iter=runner.iter, epoch=runner.epoch,
                           dataset_meta=getattr(
                               runner.train_dataloader.dataset, 'metainfo',
                               None))),
            out,
            extra_meta=dict(exported_from=type(model).__name__,
                            student_weights=weights))
        runner.logger.info(f'student checkpoint written to {out}: {source}')

    @staticmethod
    def _model(runner):
        return model_for_hook(runner, 'ExportStudentHook', ['student'],
                              'a distiller, whose weights hold "student.*"')

    @staticmethod
    def _ema_model(runner) -> Optional[nn.Module]:
        """The averaged copy of the model kept by the runner's EMAHook, or
        None without one.

        ``EMAHook.ema_model`` is a ``BaseAveragedModel``; its ``module`` is a
        copy of the (unwrapped) model, with the same state-dict keys.
        """
        hooks = [h for h in getattr(runner, 'hooks', [])
                 if isinstance(h, EMAHook)]
        if not hooks:
            return None
        if len(hooks) > 1:
            runner.logger.warning(
                f'ExportStudentHook: {len(hooks)} EMAHooks; exporting the '
                'EMA weights of the first (highest priority)')
        ema = getattr(hooks[0], 'ema_model', None)
        if ema is None:  # EMAHook.before_run builds it: not run
            runner.logger.warning(
                'ExportStudentHook: the EMAHook has no ema_model (its '
                'before_run did not run); exporting the model weights')
            return None
        return ema.module
