"""ERA end to end on an embedded dataset: teacher, baseline, ERA student.

    python tools/era_demo.py [--data synthetic|deepforest] [--seeds 0 1 2]

1. provides the tiny teacher once as ``work_dirs/teacher_<data>/teacher.pth``
   (what ``make teachers`` does, the file the distillation configs load):
   the converged teacher shipped in ``teachers/`` (checksum-verified), or,
   without one, the teacher config trained;
2. for every seed, trains the same student without and with ERA through
   ``tools/train.py`` (same data order, schedule and evaluation);
3. prints one table: teacher, baseline student, ERA student in S-mode and
   in ST-mode at its best alpha (COCO bbox mAP and mAP50 of the final
   validation), per seed and as mean +- std.

Everything runs the real tools in subprocesses; logs are in the work dirs.
The runs are driven by :mod:`mmera.runs`.
"""
import argparse
import json
import os.path as osp
import statistics
import time
from typing import List

from _bootstrap import ensure_mmera_importable

ensure_mmera_importable()

from mmera.runs.methods import config_of  # noqa: E402
from mmera.runs.paths import WORK_DIRS  # noqa: E402
from mmera.runs.teachers import (SETS, ensure_teacher,  # noqa: E402
                                 require_data, teacher_metrics)
from mmera.runs.training import (best_alpha, final_metrics,  # noqa: E402
                                 train)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--data', choices=sorted(SETS), default='synthetic')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0])
    parser.add_argument('--work-dir', default=None,
                        help='default: work_dirs/era_demo_<data>')
    parser.add_argument('--retrain-teacher', action='store_true')
    parser.add_argument('--fresh', action='store_true',
                        help='retrain student runs that already finished '
                        '(by default a finished run of the same seed is '
                        'reused, so adding seeds only trains the new ones)')
    parser.add_argument('--cfg-options', nargs='*', default=[],
                        help='extra options for the ERA runs only')
    return parser.parse_args()


def fmt(values: List[float]) -> str:
    if len(values) == 1:
        return f'{values[0]:.3f}'
    return f'{statistics.mean(values):.3f} +- {statistics.stdev(values):.3f}'


def main() -> None:
    args = parse_args()
    try:
        require_data(args.data)
    except FileNotFoundError as e:
        raise SystemExit(str(e))
    work_dir = osp.abspath(args.work_dir or osp.join(
        WORK_DIRS, f'era_demo_{args.data}'))
    start = time.time()
    teacher_ckpt = ensure_teacher(args.data, args.retrain_teacher)
    teacher = teacher_metrics(args.data)
    rows = {'baseline': [], 'era_s': [], 'era_st': []}
    for seed in args.seeds:
        seed_opt = f'randomness.seed={seed}'
        base_dir = osp.join(work_dir, f'baseline_seed{seed}')
        era_dir = osp.join(work_dir, f'era_seed{seed}')
        print(f'seed {seed}: baseline student')
        train(config_of('student', args.data), base_dir, [seed_opt],
              f'baseline s{seed}', reuse=not args.fresh)
        print(f'seed {seed}: ERA student')
        train(config_of('era', args.data), era_dir,
              [seed_opt, f'model.teacher_ckpt={teacher_ckpt}',
               *args.cfg_options], f'ERA s{seed}', reuse=not args.fresh)
        rows['baseline'].append(final_metrics(base_dir))
        rows['era_s'].append(final_metrics(era_dir))
        rows['era_st'].append(best_alpha(era_dir))

    print(f'\nERA demo on {args.data}, seeds {args.seeds}, '
          f'{time.time() - start:.0f} s (final validation of each run)')
    print('| model | bbox mAP | mAP50 | per seed (mAP) |')
    print('| --- | --- | --- | --- |')
    name = osp.basename(SETS[args.data].teacher_config)
    print(f'| teacher ({name}) | {teacher.get("mAP", float("nan")):.3f} '
          f'| {teacher.get("mAP50", float("nan")):.3f} | |')
    names = dict(baseline='baseline student', era_s='ERA student, S-mode',
                 era_st='ERA, ST-mode (best alpha)')
    for key, label in names.items():
        m = [r['mAP'] for r in rows[key]]
        m50 = [r['mAP50'] for r in rows[key]]
        extra = ''
        if key == 'era_st':
            extra = ' (alpha ' + ', '.join(
                f'{r["alpha"]:g}' for r in rows[key]) + ')'
        print(f'| {label} | {fmt(m)} | {fmt(m50)} | '
              f'{", ".join(f"{v:.3f}" for v in m)}{extra} |')
    summary = dict(data=args.data, seeds=args.seeds, teacher=teacher, **rows)
    with open(osp.join(work_dir, 'summary.json'), 'w') as f:
        json.dump(summary, f, indent=1)


if __name__ == '__main__':
    main()
