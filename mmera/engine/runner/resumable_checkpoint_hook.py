"""mmengine's CheckpointHook, safe to crash in and exact to resume from."""
import os.path as osp
from collections import deque
from typing import Dict, List, Optional, Tuple

import torch
from mmdet.registry import HOOKS
from mmengine.dist import all_gather_object, get_dist_info, is_main_process
from mmengine.hooks import CheckpointHook

from mmera.utils.atomic_files import write_text_atomic
from mmera.utils.upstream import check_tested_version

RNGState = Dict[str, object]


@HOOKS.register_module()
class ResumableCheckpointHook(CheckpointHook):
    """``CheckpointHook`` whose files always form a set a run can resume from.

    :class:`~mmera.engine.runner.MMERARunner` puts it in place of
    mmengine's ``CheckpointHook`` (same arguments). Differences:

    1. mmengine deletes the checkpoint that falls out of ``max_keep_ckpts``,
       and the previous best checkpoint, *before* writing the new one: a crash
       during the write leaves no checkpoint at all with
       ``max_keep_ckpts=1``, and no best checkpoint. Here they are deleted
       only once the new file is complete.
    2. ``last_checkpoint`` (what ``--resume`` without a path reads) is written
       atomically (mmengine truncates and rewrites it in place).
    3. Each process's torch RNG state (CPU and CUDA generators) is stored in
       the checkpoint as ``rng_state`` and restored when training resumes, so
       random choices inside the training step (ERA's ``twi_mode='sampled'``,
       dropout, random sampling in heads) continue as in an uninterrupted
       run. The state is the one at the checkpoint; validation may draw
       random numbers between the checkpoint and the next training step (a
       DataLoader draws a seed for each pass), so the uninterrupted run also
       resets its generators to the saved state before that step. Both runs
       then take exactly the same random decisions.

    numpy's and Python's generators are left alone: with ``num_workers > 0``
    data augmentation draws from the worker processes, which mmengine seeds
    per worker and which replay the skipped batches when a run resumes.
    The checkpoint files themselves are written atomically by
    ``MMERARunner.save_checkpoint``.
    """

    def __init__(self, *args, **kwargs) -> None:
        # overrides CheckpointHook's private save/delete steps (see above)
        check_tested_version(
            'mmengine', 'ResumableCheckpointHook (CheckpointHook.'
            '_save_checkpoint_with_step, _save_best_checkpoint)')
        super().__init__(*args, **kwargs)
        # (iteration it applies to, one state per rank), see item 3 above.
        self._rng_to_restore: Optional[Tuple[int, List[RNGState]]] = None

    # -- checkpoint files ---------------------------------------------------
    def _save_checkpoint_with_step(self, runner, step: int,
                                   meta: dict) -> None:
        # mmengine's method, reordered: record, write, then delete.
        hub = runner.message_hub
        # To undo the bookkeeping if the write fails.
        saved_last, saved_ids = self.last_ckpt, hub.get_info('keep_ckpt_ids')
        expired = None
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and
                                            self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                expired = self.keep_ckpt_ids[0]
            # a deque with maxlen=max_keep_ckpts: the expired id drops out
            self.keep_ckpt_ids.append(step)
            hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))
        ckpt_filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir,
                                                     ckpt_filename)
        hub.update_info('last_ckpt', self.last_ckpt)

        # meta['iter'] is the runner.iter of the next training step.
        self._rng_to_restore = (meta['iter'], all_gather_object(_rng_state()))
        try:
            runner.save_checkpoint(
                self.out_dir,
                ckpt_filename,
                self.file_client_args,
                save_optimizer=self.save_optimizer,
                save_param_scheduler=self.save_param_scheduler,
                meta=meta,
                by_epoch=self.by_epoch,
                backend_args=self.backend_args,
                **self.args)
        except BaseException:
            # Not written: the bookkeeping goes back to the files on disk.
            self.last_ckpt = saved_last
            if saved_last is not None:
                hub.update_info('last_ckpt', saved_last)
            if self.max_keep_ckpts > 0 and saved_ids is not None:
                hub.update_info('keep_ckpt_ids', saved_ids)
                self.keep_ckpt_ids = deque(saved_ids, self.max_keep_ckpts)
            raise
        if not is_main_process():
            return
        write_text_atomic(
            osp.join(runner.work_dir, 'last_checkpoint'), self.last_ckpt)
        if expired is not None:
            self._remove(
                self.file_backend.join_path(
                    self.out_dir, self.filename_tmpl.format(expired)))

    def _save_best_checkpoint(self, runner, metrics: dict) -> None:
        if not self.save_best:
            return
        single = len(self.key_indicators) == 1
        previous = ({None: self.best_ckpt_path} if single else dict(
            self.best_ckpt_path_dict))
        # Hide the previous best files from mmengine's method, which would
        # delete them before writing the new best; delete them afterwards.
        if single:
            self.best_ckpt_path = None
        else:
            self.best_ckpt_path_dict = {key: None for key in previous}
        try:
            super()._save_best_checkpoint(runner, metrics)
        except BaseException:
            # The new best was not written: the previous ones still stand.
            self._restore_best_paths(runner, previous)
            raise
        current = ({None: self.best_ckpt_path} if single else
                   self.best_ckpt_path_dict)
        for key, old_path in previous.items():
            new_path = current[key]
            if new_path is None:  # not improved: keep the previous best
                current[key] = old_path
            elif old_path and old_path != new_path and is_main_process():
                self._remove(old_path)
                runner.logger.info(
                    f'The previous best checkpoint {old_path} is removed')
        if single:
            self.best_ckpt_path = current[None]

    def _restore_best_paths(self, runner, previous: dict) -> None:
        for key, path in previous.items():
            if key is None:
                self.best_ckpt_path = path
                info_key = 'best_ckpt'
            else:
                self.best_ckpt_path_dict[key] = path
                info_key = f'best_ckpt_{key}'
            if path is not None:
                runner.message_hub.update_info(info_key, path)

    def _remove(self, path: str) -> None:
        if self.file_backend.isfile(path):
            self.file_backend.remove(path)
        elif self.file_backend.isdir(path):  # DeepSpeed saves directories
            self.file_backend.rmtree(path)

    # -- RNG state ----------------------------------------------------------
    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Adds the RNG states recorded for this checkpoint."""
        if (self._rng_to_restore is not None and checkpoint['meta'].get(
                'iter') == self._rng_to_restore[0]):
            next_iter, states = self._rng_to_restore
            checkpoint['rng_state'] = dict(next_iter=next_iter, ranks=states)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Keeps a resumed checkpoint's RNG states for its next step."""
        saved = checkpoint.get('rng_state')
        if saved is not None:
            self._rng_to_restore = (saved['next_iter'], saved['ranks'])

    def before_train_iter(self,
                          runner,
                          batch_idx: int,
                          data_batch: Optional[dict] = None) -> None:
        """Restores the RNG states saved for this iteration, if any."""
        if self._rng_to_restore is None:
            return
        next_iter, states = self._rng_to_restore
        self._rng_to_restore = None
        # A checkpoint loaded with load_from (not resumed) starts at 0.
        if runner.iter != next_iter:
            return
        rank, world_size = get_dist_info()
        if len(states) != world_size:
            runner.logger.warning(
                f'The checkpoint holds the RNG states of {len(states)} '
                f'processes, this run has {world_size}: random choices after '
                'the resume will differ from an uninterrupted run.')
            return
        _set_rng_state(states[rank])


def _rng_state() -> RNGState:
    state: RNGState = dict(torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: RNGState) -> None:
    # Runner.resume may map the checkpoint to the GPU; generators take CPU
    # byte tensors.
    torch.set_rng_state(state['torch'].cpu())
    cuda = state.get('cuda')
    if cuda is not None and torch.cuda.is_available() and len(
            cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([s.cpu() for s in cuda])
