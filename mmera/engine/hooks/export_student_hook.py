"""Writes the plain student checkpoint when training ends."""
import os.path as osp

from mmengine.dist import master_only
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmdet.registry import HOOKS
from mmera.converters import export_student_checkpoint


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

    @master_only
    def after_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
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
