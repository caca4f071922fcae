"""FLOPs per image of a ResKD model: sample-adaptive depth vs the fixed modes.

    python tools/analysis/reskd_cost.py CONFIG [CHECKPOINT] [--shape H W]
        [--thr T [T ...]] [--val] [--max-images N] [--out JSON]

Counts, with mmengine's ``FlopAnalyzer`` at one input size (``--shape``, or
the config's ``img_scale``): the student's backbone + neck (``base``), one
pass of its head (``head``) and each res-student ``R_i``. An image that stops
at depth ``d`` (after ``d`` res-students) costs

    base + head * (d + 1) + R_1 + ... + R_d

(the head runs once per depth to test the confidence), against
``base + R_1 + ... + R_n + head`` for ``inference_mode='all'`` and
``base + head`` for ``'none'``. With ``--val`` the depths come from the
config's test set: every image's confidence at every depth is computed
once, then each threshold of ``--thr`` (default: the config's
``skip_rule.thr``) gives its depths without re-running the model. Without
``--val`` the table per depth is printed. FLOPs are counted as mmengine
counts them (one multiply-add = 1); element-wise additions are not counted.
Accuracy per threshold: ``tools/test.py CONFIG CKPT --cfg-options
model.skip_rule.thr=T``.

Import :func:`reskd_flops_per_image` to cost depths measured elsewhere.
"""
import argparse
import json
import os.path as osp
import sys
from typing import Dict, List, Optional, Sequence, Tuple

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from _bootstrap import ensure_mmera_importable  # noqa: E402

ensure_mmera_importable()

import mmera  # noqa: E402,F401  (registers ResKDDistiller, safe checkpoints)
import torch  # noqa: E402
from mmengine.analysis import FlopAnalyzer  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from mmengine.runner import Runner, load_checkpoint  # noqa: E402
from torch import Tensor, nn  # noqa: E402

from mmdet.registry import MODELS  # noqa: E402
from mmera.utils.cli import check_file_exists  # noqa: E402


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


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='FLOPs per image of a ResKD model')
    parser.add_argument('config', help='the ResKD distiller config')
    parser.add_argument('checkpoint', nargs='?',
                        help='its checkpoint (needed for --val)')
    parser.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'),
                        help='input size for the FLOPs (default: the '
                        'config\'s img_scale)')
    parser.add_argument('--thr', type=float, nargs='+',
                        help='skip thresholds (default: skip_rule.thr)')
    parser.add_argument('--val', action='store_true',
                        help='measure depths on the config\'s test set')
    parser.add_argument('--max-images', type=int, help='with --val')
    parser.add_argument('--out', help='also write the results as JSON')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value pairs')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    check_file_exists(args.config, 'config file')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if cfg.model.get('type') != 'ResKDDistiller':
        raise SystemExit(f'error: {args.config} is not a ResKD config '
                         f'(model type {cfg.model.get("type")!r}).')
    if args.val and not args.checkpoint:
        raise SystemExit('error: --val needs a CHECKPOINT: the depths of an '
                         'untrained model say nothing.')
    shape = args.shape
    if shape is None:
        if 'img_scale' not in cfg:
            raise SystemExit('error: the config has no img_scale; give the '
                             'input size with --shape H W.')
        shape = (cfg.img_scale[1], cfg.img_scale[0])  # mmdet scale is (w, h)
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    cfg.model.teacher_ckpt = None  # the teacher plays no part here
    model = MODELS.build(cfg.model)
    if args.checkpoint:
        check_file_exists(args.checkpoint, 'checkpoint')
        load_checkpoint(model, args.checkpoint, map_location='cpu',
                        strict=True)
    model.eval()
    n = len(model.res_students)
    thresholds = args.thr or [float(model.skip_rule['thr'])]
    report = dict(input_shape=list(shape), rule=dict(model.skip_rule))
    components = component_flops(model, shape)
    fixed = flops_for_depths(components, [0])  # per_depth, all, none
    if args.val:
        confs = val_confidences(model, cfg, args.max_images)
        report['thresholds'] = {
            str(t): flops_for_depths(components, depths_for_threshold(
                confs, t)) for t in thresholds}
    g = 1e9
    print(f'ResKD FLOPs per image at {shape[0]}x{shape[1]} (GFLOPs): base '
          f'{fixed["base"] / g:.4f}, head {fixed["head"] / g:.4f}, R_i ' +
          ', '.join(f'{r / g:.4f}' for r in fixed['res_students']))
    for d, c in enumerate(fixed['per_depth']):
        print(f'  depth {d}: {c / g:.4f}')
    print(f'  none (student alone): {fixed["none"] / g:.4f}')
    print(f'  all ({n} res-students): {fixed["all"] / g:.4f}')
    for t, r in report.get('thresholds', {}).items():
        print(f'  adaptive thr={t}: {r["adaptive"] / g:.4f} (mean depth '
              f'{r["mean_depth"]:.2f}, depths {r["depth_histogram"]} over '
              f'{r["num_images"]} images)')
    report.update(per_depth=fixed['per_depth'], all=fixed['all'],
                  none=fixed['none'], **components)
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(report, f, indent=2)


if __name__ == '__main__':
    main()
