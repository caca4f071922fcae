"""FLOPs per image of a ResKD model: sample-adaptive depth vs the fixed modes.

    python -m benchmarks.reskd_cost CONFIG [CHECKPOINT] [--shape H W]
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

The counting lives in :mod:`mmera.analysis.flops`; import
:func:`~mmera.analysis.flops.reskd_flops_per_image` from there to cost
depths measured elsewhere.
"""
import argparse
import json

from mmdet.registry import MODELS
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint

import mmera  # noqa: F401  (registers ResKDDistiller, safe checkpoints)
from mmera.analysis.flops import (
    component_flops,
    depths_for_threshold,
    flops_for_depths,
    val_confidences,
)
from mmera.utils.cli import check_file_exists


def parse_args() -> argparse.Namespace:
    """The command line's options."""
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
    """Prints (and saves) the FLOPs of the config given."""
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
