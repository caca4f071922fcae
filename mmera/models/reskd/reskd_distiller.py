"""ResKD: residual-guided knowledge distillation (Li et al., TIP 2021)."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmdet.models.necks import FPN
from mmdet.registry import MODELS
from mmdet.structures import OptSampleList, SampleList
from mmengine.logging import MessageHub
from torch import Tensor, nn

from ..common.base_distiller import (
    BaseDistiller,
    ConfigLike,
    load_model_config,
    scale_loss,
)
from ..common.feature_adapter import FeatureAdapter
from ..common.feature_pairing import DRY_RUN_SIZE, dry_run_shapes
from ..common.utils import check_weight
from ..losses import (
    DEFAULT_FEATURE_NORM,
    check_feature_norm,
    feature_mse,
    teacher_level_norms,
)
from .res_student import (
    combined_features,
    res_student_configs,
    residual_targets,
)

Levels = List[Tensor]
INFERENCE_MODES = ('adaptive', 'all', 'none')
SKIP_RULES = ('max_score', 'topk_mean')


@MODELS.register_module()
class ResKDDistiller(BaseDistiller):
    """Distils a single-stage FPN detector with ResKD.

    Light res-students ``R_1..R_n`` (:class:`ResStudent`) map the image to
    FPN-shaped features; with student features ``S``, ``F_i = S + R_1 + ...
    + R_i`` and the student's head predicts from any ``F_i``. With ``A`` a
    bias-free (linear) adapter to the teacher's channels and ``T`` the frozen
    teacher's features, :meth:`loss` adds to the detection loss:

    * ``loss_mimic = MSE(A(S), T)`` (per level, averaged over levels);
    * ``loss_res<i> = MSE(A(R_i), (T - A(F_{i-1})).detach())``: ``R_i``
      learns what ``F_{i-1}`` still misses (``A`` is linear, so this is
      ``MSE(A(F_i), T)`` with ``F_{i-1}`` held fixed).

    The detection loss is taken on every active ``F_0..F_k`` (inference may
    stop at any of them, so each must be a detector), weighted
    ``det_weights[j] / sum(active det_weights)``, by default their mean: ``k``
    extra head passes per step. ``R_i`` joins at iteration
    ``res_student_start_iters[i-1]``, read from mmengine's ``MessageHub``
    (a resumed run continues the schedule); inactive ones are not run.

    Inference (:meth:`predict`): ``'adaptive'`` runs ``S`` and the head and,
    for each image whose confidence (``skip_rule``) is below ``thr``, adds
    ``R_1``, ``R_2``, ... until it is not; ``'all'`` runs every res-student
    and one head pass; ``'none'`` is the student alone (what
    ``tools/export_student.py`` exports). Per-image depths are recorded in
    ``last_depths`` and ``depth_counts``.

    Args:
        student: The student detector (single-stage, FPN neck). The
            teacher's neck may be any with the student's strides, its
            levels of different widths included (an adapter per level).
        teacher_config: The teacher's config (path, ``mmdet::`` path, dict).
        teacher_ckpt: The teacher's weights (local path or URL).
        res_student: One :class:`ResStudent` config for all, or one per
            res-student (default: :data:`~mmera.models.reskd.res_student.
            DEFAULT_RES_STUDENT`); its
            ``out_channels`` and neck levels/strides follow the student.
        res_student_start_iters: Iteration at which each ``R_i`` joins
            (non-decreasing); its length is ``n``.
        mimic_weight: Weight of ``loss_mimic``.
        residual_weight: Weight of every ``loss_res<i>``.
        feature_norm: ``'teacher_std'`` divides each level's MSE by the
            teacher level's variance (scale-free across levels), or ``'none'``.
        det_weights: Weights of the detection losses on ``F_0..F_n``.
        adapter: :class:`FeatureAdapter` mode (always bias-free).
        skip_rule: ``dict(type='max_score', thr=...)``, an image's highest
            class probability over all anchors, or ``dict(type='topk_mean',
            thr=..., k=10)``, the mean of its ``k`` highest.
        inference_mode: ``'adaptive'``, ``'all'`` or ``'none'``.
        data_preprocessor: Defaults to the student's.
        init_cfg: Passed to :class:`BaseDistiller`.
    """

    needs_teacher = True

    def __init__(self,
                 student: ConfigLike,
                 teacher_config: ConfigLike,
                 teacher_ckpt: Optional[str] = None,
                 res_student: Union[dict, Sequence[dict], None] = None,
                 res_student_start_iters: Sequence[int] = (0, ),
                 mimic_weight: float = 1.0,
                 residual_weight: float = 1.0,
                 feature_norm: str = DEFAULT_FEATURE_NORM,
                 det_weights: Optional[Sequence[float]] = None,
                 adapter: str = 'auto',
                 skip_rule: Optional[dict] = None,
                 inference_mode: str = 'adaptive',
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(student, teacher_config, teacher_ckpt,
                         data_preprocessor, init_cfg)
        starts = [int(s) for s in res_student_start_iters]
        if not starts or min(starts) < 0 or starts != sorted(starts):
            raise ValueError(
                'ResKDDistiller: res_student_start_iters needs one '
                'non-negative, non-decreasing iteration per res-student '
                f'(R_i learns the residual of R_1..R_{{i-1}}), got {starts}.')
        self.start_iters, n = starts, len(starts)
        check_weight('mimic_weight', mimic_weight, 'ResKDDistiller')
        check_weight('residual_weight', residual_weight, 'ResKDDistiller')
        check_feature_norm('ResKDDistiller', feature_norm)
        det_weights = [1.0] * (n + 1) if det_weights is None else [
            float(w) for w in det_weights]
        check_weight('det_weights', det_weights, 'ResKDDistiller')
        if len(det_weights) != n + 1 or det_weights[0] <= 0:
            raise ValueError(
                f'ResKDDistiller: det_weights needs n+1 = {n + 1} weights '
                f'(F_0..F_{n}), non-negative, the first > 0; got '
                f'{det_weights}.')
        # the student's FPN has one width; the teacher's levels may each
        # have their own (a YOLO neck): one adapter conv per level
        s_channels, t_channels = self.pair_detectors(
            all_levels=True, neck_types=(FPN, ), student_dense_head=True,
            per_level=True)
        self.res_students = nn.ModuleList(
            MODELS.build(cfg) for cfg in res_student_configs(
                res_student, n, load_model_config(student).get('neck', {}),
                s_channels[0]))
        # a dry run finds a res-student whose levels are not the student's
        # before training does (e.g. a backbone starting at another stride);
        # the student's levels are those the pairing's dry run found
        layout = self.pairing.student
        wanted = [(c, DRY_RUN_SIZE // s, DRY_RUN_SIZE // s)
                  for c, s in zip(layout.channels, layout.strides)]
        for i, res_student in enumerate(self.res_students):
            _check_levels(i, dry_run_shapes(res_student), wanted)
        late = [i + 1 for i, (r, it) in enumerate(
            zip(self.res_students, starts)) if it > 0 and not getattr(
                r, 'zero_init_output', True)]
        if late:
            # Inference runs all n res-students: one that has not joined
            # yet must add exactly 0, which only the zero-initialised output
            # guarantees.
            raise ValueError(
                f'ResKDDistiller: res-students {late} join after iteration '
                '0 but have zero_init_output=False, so before they join '
                'validation and inference would add untrained features; set '
                'zero_init_output=True or their start iteration to 0.')
        self.adapter = FeatureAdapter(s_channels, t_channels,
                                      len(self.pairing.strides),
                                      mode=adapter, bias=False)
        self.mimic_weight, self.residual_weight = mimic_weight, residual_weight
        self.feature_norm, self.det_weights = feature_norm, det_weights
        self.set_inference_mode(inference_mode, skip_rule or dict(
            type='max_score', thr=0.5))
        self.reset_depth_stats()

    @property
    def num_res_students(self) -> int:
        """``n``, the length of the chain."""
        return len(self.res_students)

    def set_inference_mode(self, mode: str,
                           skip_rule: Optional[dict] = None) -> None:
        """Selects the inference mode and (optionally) the skip rule.

        Raises:
            ValueError: Unknown mode or rule type, ``thr`` outside [0, 1].
        """
        if mode not in INFERENCE_MODES:
            raise ValueError(f'ResKDDistiller: unknown inference_mode '
                             f'{mode!r}; choose one of {INFERENCE_MODES}.')
        if skip_rule is not None:
            rule = dict(skip_rule)
            if rule.get('type') not in SKIP_RULES or 'thr' not in rule:
                raise ValueError(
                    f'ResKDDistiller: skip_rule must be dict(type=..., '
                    f'thr=...) with type in {SKIP_RULES}; got {skip_rule}.')
            if not 0.0 <= float(rule['thr']) <= 1.0:
                raise ValueError(f'ResKDDistiller: skip_rule thr is a '
                                 f'probability in [0, 1], got {rule["thr"]}.')
            rule.setdefault('k', 10)
            if int(rule['k']) < 1:
                raise ValueError(f'ResKDDistiller: skip_rule k must be >= 1, '
                                 f'got {rule["k"]}.')
            self.skip_rule = rule
        self.inference_mode = mode

    def init_weights(self) -> None:
        """Initialises the res-students (output zeroed) and the student, and
        loads the teacher."""
        for res_student in self.res_students:
            res_student.init_weights()
        super().init_weights()

    # -- training -------------------------------------------------------------
    def num_active_res_students(self, iteration: Optional[int] = None) -> int:
        """How many res-students train at ``iteration`` (default: the
        current one from mmengine's MessageHub, 0 outside a runner)."""
        if iteration is None:
            iteration = MessageHub.get_current_instance().get_info('iter', 0)
        return sum(int(iteration) >= start for start in self.start_iters)

    def res_student_features(self, index: int, batch_inputs: Tensor,
                             student_feats: Levels) -> Levels:
        """Runs ``R_{index+1}`` and checks its levels match the student's."""
        feats = self.res_students[index](batch_inputs)
        _check_levels(index, [tuple(f.shape) for f in feats],
                      [tuple(f.shape) for f in student_feats])
        return feats

    def add_res_student(self, index: int, batch_inputs: Tensor,
                        feats: Levels) -> Levels:
        """``F_{index+1} = F_index + R_{index+1}``, per level."""
        return [f + r for f, r in zip(feats, self.res_student_features(
            index, batch_inputs, feats))]

    def loss(self, batch_inputs: Tensor,
             batch_data_samples: SampleList) -> dict:
        """Detection losses on ``F_0..F_k`` plus ``reskd.*`` feature losses."""
        active = self.num_active_res_students()
        student_feats = list(self.student.extract_feat(batch_inputs))
        teacher_feats = self.teacher_features(batch_inputs, batch_data_samples)
        self.check_feature_shapes(student_feats, teacher_feats)
        res_feats = [
            self.res_student_features(i, batch_inputs, student_feats)
            for i in range(active)
        ]
        weights = self.det_weights[:active + 1]
        weights = [w / sum(weights) for w in weights]
        losses, prefix_losses = {}, {}
        for depth, feats in enumerate(
                combined_features(student_feats, res_feats)):
            det = self.student.bbox_head.loss(feats, batch_data_samples)
            det = {k: scale_loss(v, weights[depth]) for k, v in det.items()}
            if depth == 0:
                losses = det
            else:
                prefix_losses.update(
                    {f'reskd.{k}_f{depth}': v for k, v in det.items()})
        # Depths not yet trained log zeros: every iteration logs the same keys.
        zero = batch_inputs.new_zeros(())
        for depth in range(active + 1, self.num_res_students + 1):
            prefix_losses.update(
                {f'reskd.{k}_f{depth}': zero for k in losses})
        losses = self.merge_losses(
            losses, self.feature_losses(student_feats, res_feats,
                                        teacher_feats), prefix='reskd')
        # Detection losses, not distillation ones: no warm-up factor.
        losses.update(prefix_losses)
        self.check_finite(losses)  # the deeper detection losses too
        return losses

    def feature_losses(self, student_feats: Levels, res_feats: List[Levels],
                       teacher_feats: Levels) -> Dict[str, Tensor]:
        """``loss_mimic`` and ``loss_res1..n`` (zero for inactive ones)."""
        teacher_feats = [t.detach() for t in teacher_feats]
        norms = teacher_level_norms(teacher_feats, self.feature_norm)
        losses = dict(loss_mimic=self.mimic_weight * feature_mse(
            self.adapter(student_feats), teacher_feats, norms))
        targets = residual_targets(self.adapter, student_feats, res_feats,
                                   teacher_feats)
        for i in range(self.num_res_students):
            losses[f'loss_res{i + 1}'] = self.residual_weight * feature_mse(
                self.adapter(res_feats[i]), targets[i], norms) if i < len(
                    res_feats) else teacher_feats[0].new_zeros(())
        return losses

    # -- inference ------------------------------------------------------------
    def image_confidence(self, cls_scores: Levels) -> Tensor:
        """Each image's confidence under ``skip_rule``, shape ``(N, )``."""
        head = self.student.bbox_head
        num = cls_scores[0].shape[0]
        logits = torch.cat([
            c.permute(0, 2, 3, 1).reshape(num, -1, head.cls_out_channels)
            for c in cls_scores
        ], dim=1)
        if getattr(head, 'use_sigmoid_cls', True):
            probs = logits.sigmoid()
        else:  # softmax heads: the last channel is the background
            probs = logits.softmax(-1)[..., :-1]
        probs = probs.reshape(num, -1)
        if self.skip_rule['type'] == 'max_score':
            return probs.max(dim=1).values
        k = min(int(self.skip_rule['k']), probs.shape[1])
        return probs.topk(k, dim=1).values.mean(dim=1)

    def sample_adaptive_outputs(self, batch_inputs: Tensor
                                ) -> Tuple[Tuple[Levels, ...], Tensor]:
        """Head outputs per image at its depth, in the inference mode.

        Returns:
            tuple: the head's outputs (class scores, boxes and any others,
            per level, batched) and each image's depth (how many
            res-students it used).
        """
        head, n = self.student.bbox_head, self.num_res_students
        feats = list(self.student.extract_feat(batch_inputs))
        depths = torch.zeros(batch_inputs.shape[0], dtype=torch.long)
        if self.inference_mode == 'all':
            for i in range(n):
                feats = self.add_res_student(i, batch_inputs, feats)
            depths += n
        outs = tuple(list(o) for o in head(feats))
        if self.inference_mode != 'adaptive':
            return outs, depths
        # `going`: the images (batch indices) still below the threshold and
        # `feats` their combined features; only they run the next R_i.
        keep = self.image_confidence(outs[0]) < self.skip_rule['thr']
        going = torch.nonzero(keep.cpu()).flatten()
        for i in range(n):
            if going.numel() == 0:
                break
            feats = [f[keep] for f in feats]
            feats = self.add_res_student(
                i, batch_inputs[going.to(batch_inputs.device)], feats)
            outs_i = head(feats)
            idx = going.to(outs[0][0].device)
            for out, out_i in zip(outs, outs_i):
                for level in range(len(out)):
                    out[level][idx] = out_i[level]
            depths[going] = i + 1
            keep = self.image_confidence(outs_i[0]) < self.skip_rule['thr']
            going = going[keep.cpu()]
        return outs, depths

    def reset_depth_stats(self) -> None:
        """Clears ``last_depths`` and ``depth_counts``."""
        self.last_depths: List[int] = []
        self.depth_counts: List[int] = [0] * (self.num_res_students + 1)

    def _forward(self, batch_inputs: Tensor,
                 batch_data_samples: OptSampleList = None):
        outs, depths = self.sample_adaptive_outputs(batch_inputs)
        self.last_depths = depths.tolist()
        for depth in self.last_depths:
            self.depth_counts[depth] += 1
        return outs

    def predict(self,
                batch_inputs: Tensor,
                batch_data_samples: SampleList,
                rescale: bool = True) -> SampleList:
        """Predicts in the inference mode (see the class docstring)."""
        outs = self._forward(batch_inputs)
        results = self.student.bbox_head.predict_by_feat(
            *outs,
            batch_img_metas=[s.metainfo for s in batch_data_samples],
            rescale=rescale)
        return self.student.add_pred_to_datasample(batch_data_samples,
                                                   results)


def _check_levels(index: int, shapes: Sequence[tuple],
                  wanted: Sequence[tuple]) -> None:
    """Raises the fix when res-student ``index`` (from 0) gives other levels
    than the student's."""
    if list(shapes) != list(wanted):
        raise ValueError(
            f'ResKDDistiller: res-student {index + 1} gives levels of '
            f'shapes {list(shapes)}, the student {list(wanted)}; give it '
            'the student\'s strides and levels (backbone out_indices, neck '
            'start_level / num_outs).')
