"""What each of ERA's inference modes costs at test time.

``'S'`` runs the student alone (what ``tools/export_student.py`` writes and
stock mmdet loads). ``'T'`` runs the student's backbone and neck, MBRNet
and the teacher's head on MBRNet's last approximation; ``'ST'`` runs the
student's head too and blends the two heads' raw outputs. T and ST need
mmera at inference: the exported checkpoint holds the student only.

:func:`era_mode_costs` counts each mode's FLOPs per image (the network,
without post-processing, as :func:`~mmera.analysis.flops.detector_flops`
counts a detector) and times its ``predict`` (post-processing included) on
one image, as ratios to S.
"""
import statistics
import time
from typing import Dict, List, Optional

import torch
from mmdet.structures import DetDataSample
from torch import Tensor, nn

from mmera.models.era.mbrnet import MBRNet

from .flops import count_flops, detector_flops

#: the modes, in the order of the tables
MODES = ('S', 'T', 'ST')


def _last_approximation(model: nn.Module, feats: List[Tensor]):
    base, preds = model.mbrnet(model.pairing.select_student(feats))
    return MBRNet.approximations(base, preds)[-1]


def _t_forward(model: nn.Module, x: Tensor):
    feats = list(model.student.extract_feat(x))
    return model.twi([_last_approximation(model, feats)])


def _st_forward(model: nn.Module, x: Tensor):
    feats = list(model.student.extract_feat(x))
    return (model.student.bbox_head(feats),
            model.twi([_last_approximation(model, feats)]))


def _modes_of(model: nn.Module) -> List[str]:
    """The modes ``model`` can run (T and ST need a dense TWI head; ST one
    that decodes like the student's)."""
    from mmera.models.era.teacher_head_reuse import TeacherHeadReuse
    if not isinstance(getattr(model, 'twi', None), TeacherHeadReuse):
        return ['S']
    modes = ['S', 'T']
    if model.twi.decodes_like(model.student):
        modes.append('ST')
    return modes


def _predict_ms(model: nn.Module, x: Tensor, modes: List[str],
                alpha: float, repeats: int) -> Dict[str, float]:
    """Median wall time of ``model.predict`` on ``x`` (one image) in each
    mode, the modes taking turns (a machine's load drifts alike on all)."""
    size = x.shape[-1]
    sample = DetDataSample(metainfo=dict(
        img_shape=(size, size), ori_shape=(size, size),
        scale_factor=(1.0, 1.0), pad_shape=(size, size),
        batch_input_shape=(size, size)))
    times: Dict[str, List[float]] = {m: [] for m in modes}
    for i in range(repeats + 1):
        for mode in modes:
            model.set_inference_mode(mode, alpha)
            start = time.perf_counter()
            model.predict(x, [sample.clone()])
            if i:  # the first round warms up
                times[mode].append(1e3 * (time.perf_counter() - start))
    return {m: statistics.median(t) for m, t in times.items()}


@torch.no_grad()
def era_mode_costs(model: nn.Module, size: int, repeats: int = 5,
                   modes: Optional[List[str]] = None
                   ) -> Dict[str, Dict[str, float]]:
    """FLOPs per image and ``predict`` latency of each inference mode.

    Args:
        model: A built :class:`~mmera.models.era.ERADistiller`.
        size: The side of the square test image.
        repeats: Timed ``predict`` calls per mode (after one untimed
            round), the modes taking turns.
        modes: The modes to measure (default: all the pair can run).

    Returns:
        dict: mode -> ``gflops``, ``ms`` and their ratios to S
        (``gflops_ratio``, ``ms_ratio``); the model's mode is restored.
    """
    was_training, saved = model.training, (model.inference_mode, model.alpha)
    model.eval()
    x = torch.zeros(1, 3, size, size,
                    device=next(model.parameters()).device)
    flops = {'S': lambda: detector_flops(model.student, size),
             'T': lambda: count_flops(lambda t: _t_forward(model, t), (x, ),
                                      model),
             'ST': lambda: count_flops(lambda t: _st_forward(model, t),
                                       (x, ), model)}
    modes = modes or _modes_of(model)
    try:
        out = {mode: dict(gflops=flops[mode]() / 1e9) for mode in modes}
        for mode, ms in _predict_ms(model, x, modes, saved[1],
                                    repeats).items():
            out[mode]['ms'] = ms
    finally:
        model.set_inference_mode(*saved)
        model.train(was_training)
    for row in out.values():
        row.update(gflops_ratio=row['gflops'] / out['S']['gflops'],
                   ms_ratio=row['ms'] / out['S']['ms'])
    return out
