"""FLOPs per image, counted with mmengine's ``FlopAnalyzer``.

:func:`count_flops` is the one wrapper around the analyzer (its warnings
off): any module, or any callable of a model's parts, on given inputs.
FLOPs are counted as mmengine counts them (one multiply-add = 1);
element-wise additions are not counted. On top of it:

* :func:`detector_flops`: a detector's test-time forward (backbone, neck,
  head; no post-processing) on one square image;
* ResKD's sample-adaptive cost: an image that stops at depth ``d`` (after
  ``d`` res-students) costs ``base + head * (d + 1) + R_1 + ... + R_d`` (the
  head runs once per depth to test the confidence), against
  ``base + R_1 + ... + R_n + head`` for ``inference_mode='all'`` and
  ``base + head`` for ``'none'`` (:func:`reskd_flops_per_image`).
"""
from typing import Callable, Dict, List, Optional, Sequence, Union

import torch
from mmengine.analysis import FlopAnalyzer
from mmengine.config import Config
from mmengine.runner import Runner
from torch import Tensor, nn


class _Call(nn.Module):
    """Lets FlopAnalyzer trace a callable of ``owner``'s parts."""

    def __init__(self, fn: Callable, owner: nn.Module) -> None:
        super().__init__()
        self.owner, self.fn = owner, fn

    def forward(self, *inputs):  # noqa: D102 (any outputs of ``fn``)
        return self.fn(*inputs)


def count_flops(fn: Union[nn.Module, Callable], inputs: Sequence,
                owner: Optional[nn.Module] = None) -> int:
    """FLOPs of ``fn(*inputs)``.

    Args:
        fn: A module, or a callable of a model's parts (then ``owner``).
        inputs: Its positional inputs.
        owner: The module whose parts ``fn`` calls (None: ``fn`` is a
            module and is traced as it is).

    Returns:
        int: The FLOPs (one multiply-add = 1).
    """
    module = fn if owner is None else _Call(fn, owner)
    analyzer = FlopAnalyzer(module, tuple(inputs))
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    return int(analyzer.total())


@torch.no_grad()
def detector_flops(detector: nn.Module, size: int,
                   data_samples: Optional[list] = None) -> int:
    """FLOPs of a detector's test-time forward on one ``size`` x ``size``
    image (``detector._forward``: backbone, neck and head, no NMS; the
    image's ``data_samples`` for detectors whose forward reads them, e.g.
    two-stage and DETR-like ones)."""
    was_training = detector.training
    detector.eval()
    x = torch.zeros(1, 3, size, size,
                    device=next(detector.parameters()).device)
    flops = count_flops(lambda t: detector._forward(t, data_samples), (x, ),
                        detector)
    detector.train(was_training)
    return flops


def count_params(modules: Sequence[nn.Module]) -> int:
    """Distinct parameters of ``modules`` (shared tensors counted once)."""
    seen = {id(p): p for m in modules for p in m.parameters()}
    return sum(p.numel() for p in seen.values())


@torch.no_grad()
def component_flops(model: nn.Module,
                    input_shape: Sequence[int]) -> Dict[str, object]:
    """FLOPs of a ResKD model's ``base`` (student backbone + neck),
    ``head`` (one pass) and each res-student (``res_students``) for one
    ``(H, W)`` image."""
    was_training = model.training
    model.eval()
    x = torch.zeros(1, 3, *input_shape,
                    device=next(model.parameters()).device)
    feats = tuple(model.student.extract_feat(x))
    cost = dict(
        base=count_flops(lambda t: tuple(model.student.extract_feat(t)),
                         (x, ), model.student),
        head=count_flops(lambda *f: model.student.bbox_head(list(f)), feats,
                         model.student.bbox_head),
        res_students=[count_flops(r, (x, )) for r in model.res_students])
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
    """Mean FLOPs per image of a ResKD distiller at given depths.

    Args:
        model: The ResKD distiller.
        depths: Each image's depth (res-students used), e.g. the
            distiller's ``last_depths`` or :func:`depths_for_threshold`.
        input_shape: ``(H, W)`` at which the FLOPs are counted.

    Returns:
        dict: See :func:`flops_for_depths`.
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
