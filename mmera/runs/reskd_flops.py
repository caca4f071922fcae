"""FLOPs per image of a ResKD model at sample-adaptive depths.

Counted with mmengine's ``FlopAnalyzer`` at one input size: the student's
backbone + neck (``base``), one pass of its head (``head``) and each
res-student ``R_i``. An image that stops at depth ``d`` (after ``d``
res-students) costs

    base + head * (d + 1) + R_1 + ... + R_d

(the head runs once per depth to test the confidence), against
``base + R_1 + ... + R_n + head`` for ``inference_mode='all'`` and
``base + head`` for ``'none'``. FLOPs are counted as mmengine counts them (one
multiply-add = 1); element-wise additions are not counted.

Used by ``tools/analysis/reskd_cost.py`` (the CLI) and the method benchmark
(:mod:`mmera.runs.method_cost`).
"""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.analysis import FlopAnalyzer
from mmengine.config import Config
from mmengine.runner import Runner
from torch import Tensor, nn


class _Call(nn.Module):
    """Lets FlopAnalyzer trace one part of the model (e.g. the head)."""

    def __init__(self, fn, owner: nn.Module) -> None:
        super().__init__()
        self.owner, self.fn = owner, fn

    def forward(self, *inputs):
        return self.fn(*inputs)


def _flops(fn, owner: nn.Module, inputs: Tuple[Tensor, ...]) -> int:
    analyzer = FlopAnalyzer(_Call(fn, owner), inputs)
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    return int(analyzer.total())


@torch.no_grad()
def component_flops(model: nn.Module,
                    input_shape: Sequence[int]) -> Dict[str, object]:
    """FLOPs of ``base`` (student backbone + neck), ``head`` (one pass) and
    each res-student (``res_students``) for one ``(H, W)`` image."""
    was_training = model.training
    model.eval()
    x = torch.zeros(1, 3, *input_shape,
                    device=next(model.parameters()).device)
    feats = tuple(model.student.extract_feat(x))
    cost = dict(
        base=_flops(lambda t: tuple(model.student.extract_feat(t)),
                    model.student, (x, )),
        head=_flops(lambda *f: model.student.bbox_head(list(f)),
                    model.student.bbox_head, feats),
        res_students=[_flops(r, r, (x, )) for r in model.res_students])
    model.train(was_training)
    return cost


def flops_for_depths(components: Dict[str, object],
                     depths: Sequence[int]) -> Dict[str, object]:
    """The per-image arithmetic on :func:`component_flops`' counts.

    Args:
        components: ``base``, ``head`` and ``res_students`` FLOPs.
        depths: Each image's depth (res-students used), 0..n.

    Returns:
        dict: ``components`` plus ``per_depth`` (the cost at depth 0..n),
        ``adaptive`` (the mean over ``depths``), ``all`` and ``none`` (the
        fixed modes), ``mean_depth``, ``depth_histogram``, ``num_images``.

    Raises:
        ValueError: For no depths or a depth outside 0..n.
    """
    base, head = components['base'], components['head']
    res = list(components['res_students'])
    num, depths = len(res), [int(d) for d in depths]
    if not depths or min(depths) < 0 or max(depths) > num:
        raise ValueError(f'reskd_flops_per_image: depths must be a non-empty '
                         f'list of values in 0..{num}, got {depths[:10]}.')
    # the head runs once per depth reached: it decides whether to go on
    per_depth = [base + head * (d + 1) + sum(res[:d]) for d in range(num + 1)]
    return dict(
        components,
        per_depth=per_depth,
        adaptive=sum(per_depth[d] for d in depths) / len(depths),
        all=base + sum(res) + head,
        none=base + head,
        mean_depth=sum(depths) / len(depths),
        depth_histogram=[depths.count(d) for d in range(num + 1)],
        num_images=len(depths))


def reskd_flops_per_image(model: nn.Module, depths: Sequence[int],
                          input_shape: Sequence[int]) -> Dict[str, object]:
    """Mean FLOPs per image of a :class:`ResKDDistiller` at given depths.

    Args:
        model: The ResKD distiller.
        depths: Each image's depth (res-students used), e.g. the
            distiller's ``last_depths`` or :func:`depths_for_threshold`.
        input_shape: ``(H, W)`` at which the FLOPs are counted.

    Returns:
        dict: See :func:`flops_for_depths`; ``base``, ``head`` and
        ``res_students`` (per ``R_i``) are the components.
    """
    return flops_for_depths(component_flops(model, input_shape), depths)


@torch.no_grad()
def depth_confidences(model: nn.Module, batch_inputs: Tensor) -> Tensor:
    """Every image's confidence (the model's ``skip_rule``) at every depth
    0..n, ``(N, n+1)``: the depths for any threshold in one pass."""
    feats = list(model.student.extract_feat(batch_inputs))
    confs = [model.image_confidence(model.student.bbox_head(feats)[0])]
    for i in range(len(model.res_students)):
        feats = model.add_res_student(i, batch_inputs, feats)
        confs.append(model.image_confidence(model.student.bbox_head(feats)[0]))
    return torch.stack(confs, dim=1)


def depths_for_threshold(confidences: Tensor, thr: float) -> List[int]:
    """The adaptive depth per image: the first depth whose confidence
    reaches ``thr``, else the last (what ``inference_mode='adaptive'``
    does)."""
    reached = confidences >= thr
    reached[:, -1] = True
    return reached.int().argmax(dim=1).tolist()


def val_confidences(model: nn.Module, cfg: Config,
                    max_images: Optional[int]) -> Tensor:
    """:func:`depth_confidences` over the config's test set."""
    model.eval()
    loader = Runner.build_dataloader(cfg.test_dataloader)
    confs, seen = [], 0
    for batch in loader:
        data = model.data_preprocessor(batch, False)
        confs.append(depth_confidences(model, data['inputs']).cpu())
        seen += len(confs[-1])
        if max_images is not None and seen >= max_images:
            break
    return torch.cat(confs)[:max_images]
