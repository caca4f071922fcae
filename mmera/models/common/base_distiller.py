"""What every mmera distiller shares: a student it trains, a frozen teacher."""
import copy
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence, Tuple
from urllib.error import URLError

import torch
from mmdet.models.detectors import BaseDetector
from mmdet.registry import MODELS
from mmdet.structures import OptSampleList, SampleList
from mmengine.logging import MessageHub
from mmengine.runner import load_checkpoint
from torch import Tensor

from .feature_pairing import pair_detectors

# ConfigLike and load_model_config live in .model_config; they are
# re-exported here for the modules that import them from base_distiller.
from .model_config import ConfigLike, load_model_config
from .teacher_inputs import TeacherInputs
from .utils import freeze


class BaseDistiller(BaseDetector):
    """A detector that trains ``student``, usually with a frozen teacher.

    The teacher is kept as a plain attribute (as in mmdet's
    ``KnowledgeDistillationSingleStageDetector``): it is not a submodule, so
    its parameters are absent from ``parameters()``, from the optimizer, from
    DDP's gradient buckets and from saved checkpoints, and ``init_weights``
    never touches it (no pretrained-backbone download is triggered). It stays
    in eval mode (BN statistics frozen) and runs under ``no_grad``.

    Its weights are loaded from ``teacher_ckpt`` in :meth:`init_weights`,
    which mmengine calls only when training starts; testing a distiller
    checkpoint therefore needs no teacher checkpoint.

    Teacher-free (online) methods pass ``teacher_config=None``; then
    ``self.teacher`` is ``None`` and nothing is loaded. A method declares
    whether it needs a teacher in :attr:`needs_teacher`; the constructor
    checks it first, before anything is built.

    What a method adds on top: its own modules (built in ``__init__``), its
    losses in ``loss`` (merged with :meth:`merge_losses`) and, if it predicts
    differently from the student, ``predict``. The checks below
    (:meth:`pair_detectors`, :meth:`check_feature_shapes`) give every method
    the same clear errors.

    Args:
        student: The student detector's config.
        teacher_config: The teacher's config (see :func:`load_model_config`),
            or ``None`` for a teacher-free method.
        teacher_ckpt: Local path or URL of the teacher's weights.
        data_preprocessor: Defaults to the student's data preprocessor.
        init_cfg: Passed to :class:`BaseDetector`.
    """

    #: ``True``: the method distils from a teacher and refuses to build
    #: without ``teacher_config``; ``False``: teacher-free, refuses one;
    #: ``None``: either.
    needs_teacher: Optional[bool] = None
    #: For a teacher-free method, why it needs none (said in the error).
    teacher_free_reason: str = ''

    def __init__(self,
                 student: ConfigLike,
                 teacher_config: Optional[ConfigLike] = None,
                 teacher_ckpt: Optional[str] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        self.check_teacher_config(teacher_config, teacher_ckpt)
        student = load_model_config(student).copy()
        if data_preprocessor is None:
            data_preprocessor = student.get('data_preprocessor')
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.student = MODELS.build(student)
        self.teacher = None
        #: Which student map pairs with which teacher map (set by
        #: :meth:`pair_detectors`).
        self.pairing = None
        if teacher_config is not None:
            self.teacher = freeze(
                MODELS.build(load_model_config(teacher_config)))
            self.teacher_inputs = TeacherInputs(
                self.data_preprocessor,
                getattr(self.teacher, 'data_preprocessor', None))
        self.teacher_ckpt = teacher_ckpt
        self.teacher_loaded = self.teacher is None
        # Scales every distillation loss; warm-up hooks ramp it from 0 to 1.
        self.distill_loss_factor = 1.0

    def __setattr__(self, name: str, value: Any) -> None:
        # Keep the teacher out of the module tree (see class docstring).
        if name == 'teacher':
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    def __deepcopy__(self, memo: dict) -> 'BaseDistiller':
        # The frozen teacher is shared, not copied: a copy of the distiller
        # (EMAHook's averaged model) trains nothing of it.
        if self.teacher is not None:
            memo[id(self.teacher)] = self.teacher
        new = type(self).__new__(type(self))
        memo[id(self)] = new
        new.__dict__.update(copy.deepcopy(self.__dict__, memo))
        return new

    # -- what the student config's hooks reach -------------------------------
    @property
    def bbox_head(self) -> torch.nn.Module:
        """The student's dense head: a hook written for a detector acts on
        the student (e.g. mmdet's ``YOLOXModeSwitchHook`` sets ``use_l1``
        on ``model.bbox_head`` in the last epochs)."""
        return self.student.bbox_head

    # -- teacher handling ---------------------------------------------------
    @classmethod
    def check_teacher_config(cls, teacher_config: Optional[ConfigLike],
                             teacher_ckpt: Optional[str]) -> None:
        """Checks the teacher options against :attr:`needs_teacher`.

        Raises:
            ValueError: A method that needs a teacher got no
                ``teacher_config``, or a teacher-free one got a teacher.
        """
        name = cls.__name__
        if cls.needs_teacher and teacher_config is None:
            raise ValueError(f'{name} needs a teacher: set `teacher_config` '
                             '(and `teacher_ckpt`).')
        if cls.needs_teacher is False and (teacher_config is not None
                                           or teacher_ckpt is not None):
            why = (f' ({cls.teacher_free_reason})'
                   if cls.teacher_free_reason else '')
            raise ValueError(
                f'{name} is teacher-free{why}: remove `teacher_config` and '
                '`teacher_ckpt` from the model config.')

    def load_teacher(self) -> None:
        """Loads ``teacher_ckpt`` into the teacher (once).

        Raises:
            ValueError: If no teacher checkpoint was configured.
            FileNotFoundError: If a local checkpoint path does not exist.
            ConnectionError: If a checkpoint URL cannot be downloaded.
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
        try:
            load_checkpoint(self.teacher, ckpt, map_location='cpu',
                            strict=True)
        except (URLError, ConnectionError) as err:
            # offline machines: a bare URLError names neither the setting
            # nor a way out
            reason = getattr(err, 'reason', err)
            raise ConnectionError(
                f'{type(self).__name__}: cannot download the teacher '
                f'checkpoint {ckpt!r} (model.teacher_ckpt): {reason}. On a '
                'machine without network, download it where there is one and '
                'set model.teacher_ckpt=/local/path.pth (e.g. --cfg-options '
                'model.teacher_ckpt=...); downloads are cached in '
                f'{osp.join(torch.hub.get_dir(), "checkpoints")}.') from err
        self.teacher_loaded = True
        self._teacher_ready()

    def use_random_teacher(self) -> None:
        """Keeps the teacher's current weights as if its checkpoint were
        loaded: for analyses where shapes, mechanics and costs count, not
        the weights (the pair probe, cost measurements)."""
        if not self.teacher_loaded:
            self.teacher_loaded = True
            self._teacher_ready()

    def _teacher_ready(self) -> None:
        """Called once the teacher holds its weights; a distiller that keeps
        copies of teacher parts refreshes them here."""

    def init_weights(self) -> None:
        """Initialises the trainable parts and loads the teacher.

        Subclasses initialise their own modules, then call this.
        """
        self.student.init_weights()
        self.load_teacher()
        self._is_init = True

    @torch.no_grad()
    def teacher_features(self, batch_inputs: Tensor,
                         batch_data_samples: OptSampleList = None
                         ) -> List[Tensor]:
        """The frozen teacher's features at the paired strides.

        The teacher sees each image normalised as its own data preprocessor
        would (:class:`~mmera.models.common.teacher_inputs.TeacherInputs`); the
        data samples give each image's unpadded size.
        """
        if self.teacher is None:
            raise RuntimeError(f'{type(self).__name__} has no teacher.')
        if not self.teacher_loaded:
            self.load_teacher()
        inputs = self.teacher_inputs(batch_inputs, batch_data_samples)
        feats = list(self.teacher.extract_feat(inputs))
        return self.pairing.select_teacher(feats) if self.pairing else feats

    def train(self, mode: bool = True) -> 'BaseDistiller':
        """Sets the mode of the student; the teacher always stays in eval."""
        super().train(mode)
        if self.teacher is not None:
            self.teacher.train(False)
        return self

    def _apply(self, fn, *args, **kwargs):
        # ``to``, ``cuda``, ``half`` ... reach the teacher too.
        if self.teacher is not None:
            self.teacher._apply(fn, *args, **kwargs)
        return super()._apply(fn, *args, **kwargs)

    # -- checks shared by the methods ---------------------------------------
    def pair_detectors(self, per_level: bool = False,
                       **options) -> Tuple[Any, Any]:
        """Checks that student and teacher fit the method and pairs their
        feature maps by stride; the pairing is kept in :attr:`pairing`.

        Args:
            per_level: Return each paired level's width (the method adapts
                every level to its own width) instead of requiring one
                width per detector.
            **options: Of
                :func:`~mmera.models.common.feature_pairing.pair_detectors`
                (``same_classes``, ``student_dense_head``, ``teacher_head``,
                ``all_levels``, ``neck_types``).

        Returns:
            tuple: The one channel count of the student's and of the
            teacher's paired maps (the teacher's is None without a
            teacher); with ``per_level``, a tuple of widths each.

        Raises:
            ValueError: Naming the detector, head or neck and what to change.
        """
        name = type(self).__name__
        self.pairing = pair_detectors(self.student, self.teacher, name,
                                      **options)
        s_channels, t_channels = (self.pairing.level_channels() if per_level
                                  else self.pairing.channels(name))
        return s_channels, t_channels if self.teacher is not None else None

    def check_feature_shapes(self, student_feats: Sequence[Tensor],
                             teacher_feats: Sequence[Tensor],
                             what: str = 'FPN level') -> None:
        """Raises a ValueError when paired features differ in size."""
        for level, (s, t) in enumerate(zip(student_feats, teacher_feats)):
            if s.shape[-2:] != t.shape[-2:]:
                raise ValueError(
                    f'{type(self).__name__}: {what} {level} is '
                    f'{tuple(s.shape[-2:])} in the student but '
                    f'{tuple(t.shape[-2:])} in the teacher; both must have '
                    'the same strides (e.g. FPN start_level).')

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
                value = scale_loss(value, self.distill_loss_factor)
            losses[key] = value
        self.check_finite(losses)
        return losses

    def check_finite(self, losses: Dict[str, Any]) -> None:
        """Stops the run before a non-finite loss reaches ``backward``.

        A NaN/inf loss would turn every weight NaN at the optimizer step and
        the run would go on silently, saving NaN checkpoints over good ones.
        Raising here keeps the last checkpoint intact and names the loss.

        Raises:
            FloatingPointError: Naming the loss, its value and the iteration.
        """
        checked = []
        for key, value in losses.items():
            if not key.startswith('loss') and '.loss' not in key:
                continue
            values = value if isinstance(value, (list, tuple)) else [value]
            checked += [(key, v) for v in values if torch.is_tensor(v)]
        if not checked:
            return
        # One host sync per step, not one per loss.
        finite = torch.stack([torch.isfinite(v.detach()).all()
                              for _, v in checked])
        if bool(finite.all()):
            return
        key, v = checked[int((~finite).nonzero()[0])]
        iteration = MessageHub.get_current_instance().get_info('iter')
        raise FloatingPointError(
            f'{type(self).__name__}: loss {key!r} is not finite '
            f'({v.detach().float().flatten()[:4].tolist()}) at iteration '
            f'{iteration}; stopped before the optimizer step so no weight '
            'became NaN (the last checkpoint is intact). Lower the learning '
            'rate or the loss weights, enable gradient clipping, or check '
            'the data and the teacher checkpoint, then resume.')

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


def scale_loss(value, factor: float):
    """``value * factor`` for a loss tensor or a per-level list of them."""
    if isinstance(value, (list, tuple)):
        return type(value)(v * factor for v in value)
    return value * factor
