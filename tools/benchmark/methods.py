"""Every distillation method on one embedded set, in one table.

For each method (the plain student, ERA, FitNet, PKD, RKD, ResKD, SSKD,
Trunk-to-Branch) this script

1. trains its config on the set through ``tools/train.py`` (the full
   schedule of the config, seed ``--seed``; the teacher is trained once and
   cached as ``make teachers`` does; a finished run is reused) and reads
   the final validation bbox mAP / mAP50;
2. times its training step side by side with the plain student's: each
   method in its own process (``tools/benchmark/method_cost.py``) on one
   fixed real batch, at several points of its schedule (so ResKD's later
   res-students and SSKD's phases count as often as the schedule runs
   them), ``--rounds`` rotated sweeps pooled, and reports the ratio of
   medians to the plain student's;
3. measures the deployed model's inference cost: parameters and FLOPs per
   image (``mmengine.analysis``, backbone + neck + head, no NMS) at the
   set's test size; for ResKD also the mean FLOPs per image of its
   sample-adaptive rule over the validation images vs all res-students.

Example::

    python tools/benchmark/methods.py                   # = make bench-methods
    python tools/benchmark/methods.py --methods student fitnet --rounds 1
"""
import argparse
import json
import os
import os.path as osp
import sys
import time
from typing import Dict, List

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from _bootstrap import ensure_mmera_importable  # noqa: E402

ensure_mmera_importable()

from mmera.runs.children import sweep  # noqa: E402
from mmera.runs.methods import METHODS, PAIRS, train_methods  # noqa: E402
from mmera.runs.paths import WORK_DIRS  # noqa: E402
from mmera.runs.teachers import ensure_teacher, require_data  # noqa: E402

COST_TOOL = osp.join(osp.dirname(osp.abspath(__file__)), 'method_cost.py')
MARK = 'METHOD_COST_RESULT '  # as tools/benchmark/method_cost.py prints


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--data', choices=sorted(PAIRS), default='deepforest')
    parser.add_argument('--methods', nargs='+', choices=list(METHODS),
                        default=list(METHODS))
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--work-dir', help='default: '
                        'work_dirs/bench_methods_<data>')
    parser.add_argument('--fresh', action='store_true',
                        help='retrain runs that already finished')
    parser.add_argument('--skip-train', action='store_true',
                        help='only the cost columns')
    parser.add_argument('--train-only', action='store_true',
                        help='train (or reuse) the runs, skip the costs')
    parser.add_argument('--iters', type=int, default=4,
                        help='timed steps per schedule point')
    parser.add_argument('--points', type=int, default=4,
                        help='schedule points timed per method')
    parser.add_argument('--rounds', type=int, default=2)
    parser.add_argument('--json', help='also save the results here')
    return parser.parse_args()


def cost_command(args: argparse.Namespace, teacher: str,
                 metrics: Dict[str, Dict]):
    """The command line of one method's cost child."""
    def command(method: str) -> List[str]:
        cmd = [sys.executable, COST_TOOL, method, '--data', args.data,
               '--teacher-ckpt', teacher, '--iters', str(args.iters),
               '--points', str(args.points)]
        ckpt = metrics.get(method, {}).get('checkpoint')
        return cmd + ['--checkpoint', ckpt] if ckpt else cmd
    return command


def fmt(value, spec: str) -> str:
    return 'n/a' if value is None else format(value, spec)


def table(args: argparse.Namespace, metrics: Dict[str, Dict],
          costs: Dict[str, Dict]) -> str:
    ref = costs.get('student', {}).get('median_ms')
    rows = ['| method | bbox mAP | mAP50 | train step (ms) | step ratio to '
            'student | deployed params (M) | deployed GFLOPs / image | '
            'train time (min) |', '|---|---:|---:|---:|---:|---:|---:|---:|']
    for method in args.methods:
        m, c = metrics.get(method, {}), costs.get(method, {})
        if 'error' in c:
            rows.append(f'| {method} | cost failed: {c["error"]} |||||||')
            continue
        ms = c.get('median_ms')
        flops = fmt(c.get('gflops'), '.3f')
        if 'adaptive_gflops' in c:
            flops = (f"{c['adaptive_gflops']:.3f} adaptive ({c['threshold']}"
                     f", mean depth {c['mean_depth']:.2f}; all res-students "
                     f"{c['all_gflops']:.3f}, student alone "
                     f"{c['gflops']:.3f})")
        rows.append(
            f"| {method} | {fmt(m.get('mAP'), '.3f')} | "
            f"{fmt(m.get('mAP50'), '.3f')} | {fmt(ms, '.0f')} | "
            f"{fmt(ms / ref if ms and ref else None, '.2f')} | "
            f"{fmt(c.get('params_m'), '.3f')} | {flops} | "
            f"{fmt(m['train_s'] / 60 if 'train_s' in m else None, '.1f')} |")
    return '\n'.join(rows)


def main() -> None:
    args = parse_args()
    try:
        require_data(args.data)
    except FileNotFoundError as e:
        raise SystemExit(str(e))
    args.work_dir = osp.abspath(args.work_dir or osp.join(
        WORK_DIRS, f'bench_methods_{args.data}'))
    start = time.time()
    teacher = ensure_teacher(args.data)
    metrics = {} if args.skip_train else train_methods(
        args.methods, args.data, args.work_dir, teacher, seed=args.seed,
        reuse=not args.fresh)
    if args.train_only:
        print(json.dumps(metrics, indent=1))
        return
    costs = sweep(args.methods, args.rounds,
                  cost_command(args, teacher, metrics), MARK)
    header = (f'data: {args.data} (val split); seed {args.seed}; each '
              'config\'s full schedule; step times: one real batch, '
              f'{args.points} schedule points x {args.iters} steps x '
              f'{args.rounds} rotated rounds, median; FLOPs at the test '
              f'size, no NMS; {os.cpu_count()} CPU cores; '
              f'{(time.time() - start) / 60:.0f} min')
    print(header + '\n\n' + table(args, metrics, costs))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(header=header, metrics=metrics, costs=costs), f,
                      indent=2)


if __name__ == '__main__':
    main()
