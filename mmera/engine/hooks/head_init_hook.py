"""Starts one module of the model from the same module of a checkpoint."""
from typing import Optional

import torch
from mmdet.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.logging import print_log

from mmera.models.common.head_init import load_strictly
from mmera.utils.checkpoint_fit import read_checkpoint_weights
from mmera.utils.model_wrappers import unwrap_model


@HOOKS.register_module()
class HeadInitHook(Hook):
    """Loads ``module`` (the dense head by default) from a checkpoint's
    ``prefix`` weights when training starts: the head-initialised baseline,
    a plain student whose head starts from its teacher's.

    mmengine's config-only ways load non-strictly: ``init_cfg=dict(type=
    'Pretrained', prefix=...)`` and ``load_from`` only log a warning for a
    weight of another shape and leave it random. This hook loads strictly:
    every weight of the module must be in the checkpoint, with its shape,
    and nothing else under ``prefix``; otherwise it raises a ``ValueError``
    naming the file and the mismatch, before the first step (the loader
    ``ERADistiller(init_student_head=True)`` shares:
    :func:`~mmera.models.common.head_init.load_strictly`).

    It runs in ``before_train``, after the runner's ``init_weights`` (which
    would overwrite it) and ``load_from``. A resumed run (iteration or epoch
    above 0) keeps its resumed weights: the hook then only logs that it
    skipped.

    Args:
        checkpoint: The checkpoint file (an mmengine checkpoint or a plain
            state dict), e.g. the teacher's ``teacher.pth``.
        module: The module of the (unwrapped) model to load, as a dotted
            name (``'bbox_head'``, ``'student.bbox_head'``).
        prefix: Its weights' prefix in the checkpoint; defaults to
            ``module + '.'``.
    """

    priority = 'VERY_HIGH'

    def __init__(self,
                 checkpoint: str,
                 module: str = 'bbox_head',
                 prefix: Optional[str] = None) -> None:
        self.checkpoint = checkpoint
        self.module = module
        self.prefix = module + '.' if prefix is None else prefix

    def before_train(self, runner) -> None:
        """Loads the module, unless the run resumed."""
        if runner.iter > 0 or runner.epoch > 0:
            print_log(
                f'HeadInitHook: resumed at iteration {runner.iter}, so '
                f'{self.module} keeps its resumed weights (not loaded from '
                f'{self.checkpoint}).',
                logger='current')
            return
        self.load(unwrap_model(runner.model))

    def load(self, model: torch.nn.Module) -> None:
        """Copies the checkpoint's ``prefix`` weights into ``model``'s
        ``module``, strictly.

        Raises:
            TypeError: If the model has no such module.
            FileNotFoundError, ValueError: If the file is missing or no
                checkpoint, or its weights do not fit the module.
        """
        try:
            target = model.get_submodule(self.module)
        except AttributeError as err:
            raise TypeError(
                f'HeadInitHook: the model ({type(model).__name__}) has no '
                f'module {self.module!r} to load; set module= to one of its '
                'modules (e.g. "bbox_head").') from err
        what = f'HeadInitHook checkpoint ({self.module})'
        state = read_checkpoint_weights(self.checkpoint, what)
        weights = {
            k[len(self.prefix):]: v
            for k, v in state.items() if k.startswith(self.prefix)
        }
        loaded = load_strictly(
            target, weights,
            what=f'{what} {self.checkpoint!r} does not fit the model\'s '
            f'{self.module}',
            name=self.module, prefix=self.prefix,
            fix='Point the hook\'s checkpoint, module or prefix at a '
            'matching head.')
        print_log(
            f'HeadInitHook: {self.module} loaded from {self.checkpoint} '
            f'({loaded} weights under {self.prefix!r}).',
            logger='current')
