"""What every mmera distiller shares: a student it trains, a frozen teacher."""
import os.path as osp
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

import torch
from mmengine.config import Config, ConfigDict
from mmengine.hub import get_config
from mmengine.runner import load_checkpoint
from torch import Tensor

from mmdet.models.detectors import BaseDetector
from mmdet.registry import MODELS
from mmdet.structures import OptSampleList, SampleList
from ..utils import freeze

ConfigLike = Union[str, Path, dict, ConfigDict, Config]


def load_model_config(config: ConfigLike) -> ConfigDict:
    """Returns the ``model`` dict of a config path, ``mmdet::`` path or dict.

    Args:
        config: A config file path, an ``mmdet::...`` config path, a full
            config (with a ``model`` key) or a model dict (with ``type``).

    Returns:
        ConfigDict: The detector's model config.
    """
    if isinstance(config, (str, Path)):
        path = str(config)
        if '::' in path:
            cfg = get_config(path)
        elif osp.isfile(path):
            cfg = Config.fromfile(path)
        else:
            raise FileNotFoundError(
                f'teacher_config {path!r} is neither a file nor an '
                '"mmdet::..." config path.')
        return cfg.model
    config = ConfigDict(config)
    return config.model if 'model' in config else config


class BaseDistiller(BaseDetector):
    """A detector that trains ``student`` with help from a frozen teacher.

    The teacher is kept as a plain attribute (as in mmdet's
    ``KnowledgeDistillationSingleStageDetector``): it is not a submodule, so
    its parameters are absent from ``parameters()``, from the optimizer, from
    DDP's gradient buckets and from saved checkpoints, and ``init_weights``
    never touches it (no pretrained-backbone download is triggered). It stays
    in eval mode (BN statistics frozen) and runs under ``no_grad``.

    Its weights are loaded from ``teacher_ckpt`` in :meth:`init_weights`,
    which mmengine calls only when training starts; testing a distiller
    checkpoint therefore needs no teacher checkpoint.

    Args:
        student: The student detector's config.
        teacher_config: The teacher's config (see :func:`load_model_config`).
        teacher_ckpt: Local path or URL of the teacher's weights.
        data_preprocessor: Defaults to the student's data preprocessor.
        init_cfg: Passed to :class:`BaseDetector`.
    """

    def __init__(self,
                 student: ConfigLike,
                 teacher_config: ConfigLike,
                 teacher_ckpt: Optional[str] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        student = load_model_config(student).copy()
        if data_preprocessor is None:
            data_preprocessor = student.get('data_preprocessor')
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.student = MODELS.build(student)
        self.teacher = freeze(MODELS.build(load_model_config(teacher_config)))
        self.teacher_ckpt = teacher_ckpt
        self.teacher_loaded = False
        # Scales every distillation loss; warm-up hooks ramp it from 0 to 1.
        self.distill_loss_factor = 1.0

    def __setattr__(self, name: str, value: Any) -> None:
        # Keep the teacher out of the module tree (see class docstring).
        if name == 'teacher':
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    # -- teacher handling ---------------------------------------------------
    def load_teacher(self) -> None:
        """Loads ``teacher_ckpt`` into the teacher (once).

        Raises:
            ValueError: If no teacher checkpoint was configured.
            FileNotFoundError: If a local checkpoint path does not exist.
        """
        if self.teacher_loaded:
            return
        ckpt = self.teacher_ckpt
        if ckpt is None:
            raise ValueError(
                f'{type(self).__name__}: training needs a teacher: set '
                '`teacher_ckpt` in the model config to the teacher\'s '
                'checkpoint (a local path or URL).')
        if '://' not in ckpt and not osp.isfile(ckpt):
            raise FileNotFoundError(
                f'{type(self).__name__}: teacher checkpoint not found: '
                f'{ckpt!r} (resolved to {osp.abspath(ckpt)!r}). Train the '
                'teacher first or fix `teacher_ckpt` in the config.')
        load_checkpoint(self.teacher, ckpt, map_location='cpu', strict=True)
        self.teacher_loaded = True

    def init_weights(self) -> None:
        """Initialises the trainable parts and loads the teacher.

        Subclasses initialise their own modules, then call this.
        """
        self.student.init_weights()
        self.load_teacher()
        self._is_init = True

    @torch.no_grad()
    def teacher_features(self, batch_inputs: Tensor) -> List[Tensor]:
        """Returns the frozen teacher's neck features."""
        if not self.teacher_loaded:
            self.load_teacher()
        return list(self.teacher.extract_feat(batch_inputs))

    def train(self, mode: bool = True) -> 'BaseDistiller':
        """Sets the mode of the student; the teacher always stays in eval."""
        super().train(mode)
        self.teacher.train(False)
        return self

    def _apply(self, fn, *args, **kwargs):
        # ``to``, ``cuda``, ``half`` ... reach the teacher too.
        self.teacher._apply(fn, *args, **kwargs)
        return super()._apply(fn, *args, **kwargs)

    # -- losses ---------------------------------------------------------------
    def merge_losses(self, student_losses: Dict[str, Any],
                     distill_losses: Dict[str, Any],
                     prefix: str) -> Dict[str, Any]:
        """Adds prefixed, warm-up-scaled distillation losses to the student's.

        Args:
            student_losses: The student detector's own losses (unchanged).
            distill_losses: The method's losses, named without prefix.
            prefix: e.g. ``'era'`` gives ``'era.loss_mimic'``.

        Returns:
            dict: The merged losses.
        """
        losses = dict(student_losses)
        for name, value in distill_losses.items():
            key = f'{prefix}.{name}'
            if name.startswith('loss'):
                value = _scale(value, self.distill_loss_factor)
            losses[key] = value
        return losses

    # -- the detector interface ---------------------------------------------
    def extract_feat(self, batch_inputs: Tensor):
        """The student's features."""
        return self.student.extract_feat(batch_inputs)

    def _forward(self,
                 batch_inputs: Tensor,
                 batch_data_samples: OptSampleList = None):
        return self.student._forward(batch_inputs, batch_data_samples)

    def predict(self,
                batch_inputs: Tensor,
                batch_data_samples: SampleList,
                rescale: bool = True) -> SampleList:
        """Predicts with the student alone (subclasses add modes)."""
        return self.student.predict(batch_inputs, batch_data_samples,
                                    rescale)


def _scale(value, factor: float):
    if isinstance(value, (list, tuple)):
        return type(value)(v * factor for v in value)
    return value * factor
