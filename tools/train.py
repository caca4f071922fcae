"""Trains a detector or a distiller: mmdet's ``tools/train.py`` plus mmera.

Same command line as mmdet 3.x; importing mmera registers its components and
makes checkpoints load under ``torch.load(weights_only=True)`` (torch >= 2.6),
so ``--resume`` works.
"""
import argparse
import os
import sys

from _bootstrap import ensure_mmera_importable

ensure_mmera_importable()

import mmera  # noqa: E402,F401  (registers components, safe checkpoints)
from mmengine.config import DictAction  # noqa: E402

from mmera.datasets.checked_coco_dataset import \
    use_checked_datasets  # noqa: E402  (also registers the dataset)
from mmera.utils.cli import (apply_amp, build_runner,  # noqa: E402
                             check_file_exists, check_training_inputs,
                             load_tool_config)
from mmera.utils.dist import setup_cpu_distributed  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a detector (mmera)')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--amp',
        action='store_true',
        default=False,
        help='enable automatic mixed precision training')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='enable automatically scaling LR.')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from the given checkpoint, or, without a path, from the '
        'latest checkpoint in the work directory')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, key=value pairs, e.g. '
        'train_cfg.max_iters=100 or key="[a,b]"')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    # torch.distributed launchers pass --local-rank (>= 2.0) or --local_rank.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main() -> None:
    args = parse_args()
    cfg = load_tool_config(args)
    use_checked_datasets(cfg)

    if args.amp:
        apply_amp(cfg)

    if args.auto_scale_lr:
        if 'auto_scale_lr' in cfg and 'base_batch_size' in cfg.auto_scale_lr:
            cfg.auto_scale_lr.enable = True
        else:
            sys.exit('--auto-scale-lr needs `auto_scale_lr = dict('
                     'base_batch_size=...)` in the config.')

    # resume priority: an explicit checkpoint > the latest in work_dir
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        check_file_exists(args.resume, 'checkpoint to resume from')
        cfg.resume = True
        cfg.load_from = args.resume

    setup_cpu_distributed(cfg, args.launcher)
    # AtomicCheckpointRunner unless the config names another runner
    runner = build_runner(cfg)
    check_training_inputs(
        runner, args.resume if args.resume not in (None, 'auto') else None)
    runner.train()


if __name__ == '__main__':
    main()
