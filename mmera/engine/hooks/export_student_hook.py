"""Writes the plain student checkpoint when training ends."""
import os.path as osp

from mmengine.dist import master_only
from mmengine.hooks import Hook

from mmdet.registry import HOOKS
from mmera.converters import export_student_checkpoint
from .hook_model import model_for_hook


@HOOKS.register_module()
class ExportStudentHook(Hook):
    """Saves ``work_dir/<filename>``: the student alone, loadable by stock
    mmdet with the stock student config (rank 0 only, written atomically).

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
        """Writes the student checkpoint."""
        model = self._model(runner)
        out = osp.join(runner.work_dir, self.filename)
        export_student_checkpoint(
            dict(state_dict=model.state_dict(),
                 meta=dict(iter=runner.iter, epoch=runner.epoch,
                           dataset_meta=getattr(
                               runner.train_dataloader.dataset, 'metainfo',
                               None))),
            out,
            extra_meta=dict(exported_from=type(model).__name__))
        runner.logger.info(f'student checkpoint written to {out}')

    @staticmethod
    def _model(runner):
        return model_for_hook(runner, 'ExportStudentHook', ['student'],
                              'a distiller, whose weights hold "student.*"')
