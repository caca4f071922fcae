"""Every distillation method on one embedded set, in one table.

For each method (the plain student, ERA, FitNet, PKD, RKD, ResKD, SSKD,
Trunk-to-Branch) this script

1. trains its config on the set through ``tools/train.py`` (the full
   schedule of the config, seed ``--seed``; the teacher is trained once and
   cached as in ``tools/era_demo.py``; a finished run is reused) and reads
   the final validation bbox mAP / mAP50;
2. times its training step side by side with the plain student's: each
   method in its own process on one fixed real batch, at several points of
   its schedule (so ResKD's later res-students and SSKD's phases count as
   often as the schedule runs them), ``--rounds`` rotated sweeps pooled, and
   reports the ratio of medians to the plain student's;
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
import statistics
import subprocess
import sys
import time
from typing import Dict, List

TOOLS = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, TOOLS)
from _bootstrap import ensure_mmera_importable  # noqa: E402

ensure_mmera_importable()

import era_demo  # noqa: E402  (train(), final_metrics(), ensure_teacher())

REPO = era_demo.REPO
MARK = 'METHOD_COST_RESULT '
# method -> (config per data set, whether it uses the teacher)
METHODS = {
    'student': ('configs/tiny/retinanet_r18w16_fpn_{data}.py', False),
    'era': ('configs/era/era_{pair}_to_r18w16_{data}.py', True),
    'fitnet': ('configs/fitnet/fitnet_{pair}_to_r18w16_{data}.py', True),
    'pkd': ('configs/pkd/pkd_{pair}_to_r18w16_{data}.py', True),
    'rkd': ('configs/rkd/rkd_{pair}_to_r18w16_{data}.py', True),
    'reskd': ('configs/reskd/reskd_{pair}_to_r18w16_{data}.py', True),
    'sskd': ('configs/sskd/sskd_{pair}_to_r18w16_{data}.py', True),
    'trunk_branch': ('configs/trunk_branch/trunk_branch_r18w16_{data}.py',
                     False),
}
PAIRS = {'deepforest': 'mnv2', 'synthetic': 'r34w32'}


def config_of(method: str, data: str) -> str:
    return osp.join(REPO, METHODS[method][0].format(pair=PAIRS[data],
                                                    data=data))


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
    parser.add_argument('--single', help=argparse.SUPPRESS)
    parser.add_argument('--teacher-ckpt', help=argparse.SUPPRESS)
    parser.add_argument('--checkpoint', help=argparse.SUPPRESS)
    return parser.parse_args()


def train_all(args: argparse.Namespace, teacher: str) -> Dict[str, Dict]:
    """Trains (or reuses) every method's run; returns its final metrics."""
    metrics = {}
    for method in args.methods:
        work_dir = osp.join(args.work_dir, method)
        options = [f'randomness.seed={args.seed}']
        if METHODS[method][1]:
            options.append(f'model.teacher_ckpt={teacher}')
        era_demo.train(config_of(method, args.data), work_dir, options,
                       method, reuse=not args.fresh)
        metrics[method] = era_demo.final_metrics(work_dir)
        with open(osp.join(work_dir, 'demo_done.json')) as f:
            metrics[method]['train_s'] = json.load(f)['seconds']
        with open(osp.join(work_dir, 'last_checkpoint')) as f:
            metrics[method]['checkpoint'] = f.read().strip()
    return metrics


def cost_children(args: argparse.Namespace, teacher: str,
                  metrics: Dict[str, Dict]) -> Dict[str, Dict]:
    """Runs every method's cost measurement in its own process, in rotated
    orders over ``--rounds``, and pools the step times."""
    pooled: Dict[str, Dict] = {}
    methods = list(args.methods)
    for r in range(args.rounds):
        order = methods[r % len(methods):] + methods[:r % len(methods)]
        for method in order:
            cmd = [sys.executable, osp.abspath(__file__), '--single', method,
                   '--data', args.data, '--teacher-ckpt', teacher,
                   '--iters', str(args.iters), '--points', str(args.points)]
            ckpt = metrics.get(method, {}).get('checkpoint')
            if ckpt:
                cmd += ['--checkpoint', ckpt]
            proc = subprocess.run(cmd, capture_output=True, text=True,
                                  cwd=REPO)
            lines = [x for x in proc.stdout.splitlines() if x.startswith(MARK)]
            if proc.returncode or not lines:
                print(f'{method} cost failed:\n{proc.stderr[-3000:]}',
                      file=sys.stderr)
                pooled.setdefault(method, dict(error=(
                    proc.stderr.strip().splitlines() or ['?'])[-1][:100]))
                continue
            res = json.loads(lines[-1][len(MARK):])
            prev = pooled.setdefault(method, res)
            if prev is not res and 'times_ms' in prev:
                prev['times_ms'] += res['times_ms']
            print(f'cost: {method} (round {r + 1})', file=sys.stderr,
                  flush=True)
    for res in pooled.values():
        if 'times_ms' in res:
            res['median_ms'] = statistics.median(res['times_ms'])
    return pooled


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
                     f"{c['all_gflops']:.3f}, student alone {c['gflops']:.3f})")
        rows.append(
            f"| {method} | {fmt(m.get('mAP'), '.3f')} | "
            f"{fmt(m.get('mAP50'), '.3f')} | {fmt(ms, '.0f')} | "
            f"{fmt(ms / ref if ms and ref else None, '.2f')} | "
            f"{fmt(c.get('params_m'), '.3f')} | {flops} | "
            f"{fmt(m['train_s'] / 60 if 'train_s' in m else None, '.1f')} |")
    return '\n'.join(rows)


def main() -> None:
    args = parse_args()
    if args.single:
        from method_cost import measure  # noqa: E402  (children only)
        print(MARK + json.dumps(measure(args)), flush=True)
        return
    spec = era_demo.SETS[args.data]
    if not osp.isfile(osp.join(REPO, spec['data'])):
        raise SystemExit(f'no {args.data} data at {spec["data"]}: run '
                         f'`{spec["make"]}` first.')
    args.work_dir = args.work_dir or osp.join(
        REPO, 'work_dirs', f'bench_methods_{args.data}')
    start = time.time()
    teacher = era_demo.ensure_teacher(spec, args.data, False)
    metrics = {} if args.skip_train else train_all(args, teacher)
    if args.train_only:
        print(json.dumps(metrics, indent=1))
        return
    costs = cost_children(args, teacher, metrics)
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
