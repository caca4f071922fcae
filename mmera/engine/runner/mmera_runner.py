"""mmera's MMEngine Runner: safe checkpoints, CPU start-up, pre-flight
checks."""
import os.path as osp
from typing import Dict, List, Optional, Union

import torch
from mmdet.engine.hooks import MeanTeacherHook
from mmdet.registry import RUNNERS
from mmengine.config import ConfigDict
from mmengine.device import get_device
from mmengine.dist import is_distributed, master_only
from mmengine.fileio import LocalBackend, get_file_backend
from mmengine.hooks import CheckpointHook, Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import MODEL_WRAPPERS
from mmengine.runner import Runner
from torch.nn.parallel import DistributedDataParallel

from mmera.models import BaseDistiller
from mmera.utils.atomic_files import atomic_output
from mmera.utils.checkpoint_fit import check_checkpoint_fits
from mmera.utils.dist import init_cpu_distributed
from mmera.utils.model_wrappers import unwrap_model
from mmera.utils.upstream import check_tested_version

# imported to register it: register_hooks builds it by name
from .resumable_checkpoint_hook import ResumableCheckpointHook  # noqa: F401


@RUNNERS.register_module()
class MMERARunner(Runner):
    """mmengine's ``Runner`` with what a distillation run needs, declared by
    the config (``runner_type = 'mmdet.MMERARunner'``), so that mmdet's own
    ``tools/train.py`` / ``tools/test.py`` (and ``mim train mmdet``) give the
    same run as mmera's tools.

    Checkpoints (mmengine 0.10.7 writes a checkpoint by opening its final
    name and writing the bytes: a job killed during the write leaves a
    truncated ``iter_N.pth`` that looks like a checkpoint, and with
    ``max_keep_ckpts`` the older good checkpoint was deleted before the write
    began):

    * every checkpoint (periodic and best) is written to a hidden temporary
      file in the same directory, ``fsync``-ed and renamed onto its final
      name (:mod:`mmera.utils.atomic_files`);
    * the stock ``CheckpointHook`` is replaced by
      :class:`ResumableCheckpointHook` (same arguments), which deletes old and
      previous-best checkpoints only after the new one is complete, writes
      ``last_checkpoint`` atomically and saves/restores the RNG state, so a
      resumed run is bit-identical to an uninterrupted one.

    Start-up on machines without an accelerator (mmengine's ``get_device()``
    is ``'cpu'``; mmengine assumes a GPU, NPU, ... per process):

    * ``setup_env`` starts a gloo process group itself (mmengine's
      ``init_dist`` calls ``torch.cuda.set_device``, which fails there);
    * ``wrap_model`` gives DDP ``device_ids=None`` (mmengine passes
      ``[LOCAL_RANK]``, which DDP rejects for CPU modules);
    * ``AmpOptimWrapper`` (what ``--amp`` of mmdet's script selects) becomes
      ``CPUAmpOptimWrapper`` (bfloat16 autocast; mmengine refuses fp16 AMP
      without an accelerator). Each substitution is logged.

    Pre-flight checks, before any training or evaluation step: a distiller's
    teacher checkpoint must fit its teacher config exactly; a checkpoint given
    to resume from (``--resume PATH``) or to test must fit the model
    (mmengine loads both non-strictly and would silently leave the
    mismatching parts random). Errors name the file, the mismatch and the
    fix.

    The overridden methods were written against mmengine 0.10
    (:mod:`mmera.utils.upstream` refuses other versions). Remote back-ends
    (``backend_args`` for S3, Petrel...) are written as by mmengine: an object
    store publishes an object only once its upload is complete.
    """

    def __init__(self, *args, **kwargs) -> None:
        check_tested_version(
            'mmengine', 'MMERARunner (Runner.setup_env, wrap_model, '
            'save_checkpoint, register_hooks; CheckpointHook internals)')
        super().__init__(*args, **kwargs)

    # -- start-up -------------------------------------------------------------
    def setup_env(self, env_cfg: Dict) -> None:
        """Starts a gloo process group on CPU-only machines, then as mmengine.

        Args:
            env_cfg: The config's ``env_cfg``; its ``dist_cfg.timeout`` is
                kept, its backend (``nccl`` in mmdet's runtime) cannot run
                without CUDA and is replaced by gloo.
        """
        if self.distributed and not is_distributed():
            timeout = env_cfg.get('dist_cfg', {}).get('timeout', 1800)
            init_cpu_distributed(self.launcher, timeout_s=timeout)
        super().setup_env(env_cfg)

    def wrap_model(self, model_wrapper_cfg: Optional[Dict], model):
        """Wraps as mmengine, with ``device_ids=None`` for CPU-only DDP.

        Args:
            model_wrapper_cfg: The config's ``model_wrapper_cfg``.
            model: The model to wrap.

        Returns:
            The wrapped (or, when not distributed, plain) model.
        """
        if (self.distributed and get_device() == 'cpu'
                and not is_model_wrapper(model)):
            wrapper = ConfigDict(model_wrapper_cfg or dict(
                type='MMDistributedDataParallel',
                broadcast_buffers=False,
                find_unused_parameters=self.cfg.get(
                    'find_unused_parameters', False)))
            wrapper.setdefault('type', 'MMDistributedDataParallel')
            if issubclass(MODEL_WRAPPERS.get(wrapper.type),
                          DistributedDataParallel):
                wrapper.device_ids = None
            model_wrapper_cfg = wrapper
        return super().wrap_model(model_wrapper_cfg, model)

    def build_optim_wrapper(self, optim_wrapper):
        """Builds as mmengine; fp16 AMP becomes bfloat16 AMP without CUDA.

        Args:
            optim_wrapper: The optimizer wrapper (config).

        Returns:
            The built optimizer wrapper.
        """
        if (isinstance(optim_wrapper, dict) and get_device() == 'cpu'
                and str(optim_wrapper.get('type', '')).split('.')[-1]
                == 'AmpOptimWrapper'):
            optim_wrapper = dict(optim_wrapper,
                                 type='mmdet.CPUAmpOptimWrapper')
            optim_wrapper.pop('loss_scale', None)
            self.logger.info(
                'No accelerator: AmpOptimWrapper (fp16) replaced by '
                'CPUAmpOptimWrapper (bfloat16 autocast, no loss scaling).')
        return super().build_optim_wrapper(optim_wrapper)

    # -- pre-flight checks ----------------------------------------------------
    def train(self):
        """Checks the hooks, the teacher and resume checkpoints, then
        trains."""
        self._check_hooks()
        self._check_teacher_checkpoint()
        if self._resume and self._load_from is not None:
            self._check_loaded_checkpoint(
                'checkpoint to resume from',
                'Resume from a checkpoint this config wrote (work_dirs/<run>/'
                'iter_N.pth); to start from other weights use load_from.')
        return super().train()

    def val(self) -> dict:
        """Checks the checkpoint to evaluate (``load_from``), then
        validates."""
        self._check_evaluated_checkpoint()
        return super().val()

    def test(self) -> dict:
        """Checks the checkpoint to evaluate (``load_from``), then tests."""
        self._check_evaluated_checkpoint()
        return super().test()

    def _check_hooks(self) -> None:
        """Refuses a hook that would train a distiller's frozen teacher.

        mmdet's ``MeanTeacherHook`` (semi-supervised configs) finds
        ``.student`` and ``.teacher`` on every distiller and copies the
        student's weights into the teacher: a crash where their shapes
        differ, a silently overwritten teacher where they match.
        """
        if not isinstance(unwrap_model(self.model), BaseDistiller):
            return
        for hook in self.hooks:
            if isinstance(hook, MeanTeacherHook):
                raise ValueError(
                    f'{type(hook).__name__} would copy the student\'s '
                    'weights into the distillation teacher of '
                    f'{type(unwrap_model(self.model)).__name__}, which '
                    'stays frozen: remove it from custom_hooks. (For a '
                    'mean teacher, train mmdet\'s SoftTeacher without a '
                    'distiller.)')

    def _check_teacher_checkpoint(self) -> None:
        # The teacher is loaded strictly in init_weights, but only after the
        # data, optimizer and student are set up: check it first.
        model = unwrap_model(self.model)
        teacher = getattr(model, 'teacher', None)
        ckpt = getattr(model, 'teacher_ckpt', None)
        if (isinstance(teacher, torch.nn.Module) and ckpt
                and '://' not in str(ckpt)):
            check_checkpoint_fits(
                teacher, str(ckpt), 'teacher checkpoint (model.teacher_ckpt)',
                'Set model.teacher_ckpt to the checkpoint of a detector '
                'trained with the teacher config (model.teacher_config).')

    def _check_evaluated_checkpoint(self) -> None:
        if self._load_from is not None and not self._resume:
            self._check_loaded_checkpoint(
                'checkpoint', 'Test a distiller checkpoint with its distiller '
                'config and a student exported by tools/export_student.py '
                '(or ExportStudentHook) with the student config.')

    def _check_loaded_checkpoint(self, what: str, fix: str) -> None:
        path = str(self._load_from)
        if '://' in path:  # remote: read by mmengine's loader
            return
        unknown = check_checkpoint_fits(
            unwrap_model(self.model), path, what, fix, strict=False)
        if unknown:
            self.logger.warning(
                f'{len(unknown)} weights of {path!r} are unknown to the '
                f'model and ignored (e.g. {unknown[0]!r}).')

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
                checkpoint, type='mmdet.ResumableCheckpointHook')
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
