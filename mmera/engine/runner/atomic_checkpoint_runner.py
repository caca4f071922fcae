"""An MMEngine Runner whose checkpoints are never half-written."""
import os.path as osp
from typing import Dict, List, Optional, Union

from mmengine.dist import master_only
from mmengine.fileio import LocalBackend, get_file_backend
from mmengine.hooks import CheckpointHook, Hook
from mmengine.runner import Runner

from mmdet.registry import RUNNERS
from .atomic_files import atomic_output
# imported to register it: register_hooks builds it by name
from .resumable_checkpoint_hook import ResumableCheckpointHook  # noqa: F401


@RUNNERS.register_module()
class AtomicCheckpointRunner(Runner):
    """``Runner`` that writes checkpoints atomically and resumes exactly.

    mmengine 0.10.7 writes a checkpoint by opening its final name and writing
    the bytes: a job killed during the write (preemption, out of memory, a
    full disk) leaves a truncated ``iter_N.pth`` that looks like a checkpoint
    to anyone listing the directory or resuming from it, and with
    ``max_keep_ckpts`` the older good checkpoint was deleted before the write
    began. This runner:

    * writes every checkpoint (periodic and best) to a hidden temporary file
      in the same directory, ``fsync``-s it and renames it onto its final name
      (:mod:`.atomic_files`), so the final name only ever holds a complete
      file;
    * replaces the stock ``CheckpointHook`` by
      :class:`ResumableCheckpointHook` (same arguments), which deletes old and
      previous-best checkpoints only after the new one is complete, writes
      ``last_checkpoint`` atomically and saves/restores the torch RNG state so
      a resumed run takes the same random decisions as an uninterrupted one.

    Select it with ``runner_type = 'mmdet.AtomicCheckpointRunner'`` (the
    mmera runtime config does; ``tools/train.py`` uses it for any config that
    names no runner). Remote back-ends (``backend_args`` for S3, Petrel...)
    are written as by mmengine: an object store publishes an object only once
    its upload is complete.
    """

    def register_hooks(
            self,
            default_hooks: Optional[Dict[str, Union[Hook, Dict]]] = None,
            custom_hooks: Optional[List[Union[Hook, Dict]]] = None) -> None:
        """Registers the hooks, with the resumable checkpoint hook."""
        default_hooks = dict(default_hooks or {})
        # mmengine's default when the config names none: interval=1
        checkpoint = default_hooks.get(
            'checkpoint', dict(type='CheckpointHook', interval=1))
        if _is_stock_checkpoint_hook(checkpoint):
            default_hooks['checkpoint'] = dict(
                checkpoint, type='ResumableCheckpointHook')
        elif checkpoint is not None:
            self.logger.warning(
                f'Checkpoint hook {checkpoint!r} is not mmengine\'s '
                'CheckpointHook, so it is kept as is: files are still '
                'written atomically, but old checkpoints may be deleted '
                'before the new one is complete and the RNG state is not '
                'resumed.')
        super().register_hooks(default_hooks, custom_hooks)

    @master_only
    def save_checkpoint(self,
                        out_dir: str,
                        filename: str,
                        file_client_args: Optional[dict] = None,
                        save_optimizer: bool = True,
                        save_param_scheduler: bool = True,
                        meta: Optional[dict] = None,
                        by_epoch: bool = True,
                        backend_args: Optional[dict] = None) -> None:
        """Saves like :meth:`Runner.save_checkpoint`, then renames.

        Same arguments as mmengine's method. A local checkpoint is written
        under a temporary name by mmengine's own method and published as
        ``out_dir/filename`` only once complete and synced; if writing fails,
        the temporary file is removed and an existing ``out_dir/filename`` is
        left as it was.
        """
        kwargs = dict(
            file_client_args=file_client_args,
            save_optimizer=save_optimizer,
            save_param_scheduler=save_param_scheduler,
            meta=meta,
            by_epoch=by_epoch,
            backend_args=backend_args)
        if file_client_args is not None or not isinstance(
                get_file_backend(out_dir, backend_args=backend_args),
                LocalBackend):
            super().save_checkpoint(out_dir, filename, **kwargs)
            return
        with atomic_output(osp.join(out_dir, filename)) as tmp_path:
            super().save_checkpoint(out_dir, osp.basename(tmp_path), **kwargs)


def _is_stock_checkpoint_hook(hook: Union[Hook, Dict, None]) -> bool:
    if not isinstance(hook, dict):
        return False
    hook_type = hook.get('type')
    if isinstance(hook_type, str):
        return hook_type.split('.')[-1] == 'CheckpointHook'
    return hook_type is CheckpointHook
