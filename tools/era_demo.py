"""ERA end to end on an embedded dataset: teacher, baseline, ERA student.

    python tools/era_demo.py [--data synthetic|deepforest] [--seeds 0 1 2]

1. trains the tiny teacher once and caches it (``work_dirs/teacher_<data>``);
2. for every seed, trains the same student without and with ERA through
   ``tools/train.py`` (same data order, schedule and evaluation);
3. prints one table: teacher, baseline student, ERA student in S-mode and
   in ST-mode at its best alpha (COCO bbox mAP and mAP50 of the final
   validation), per seed and as mean +- std.

Everything runs the real tools in subprocesses; logs are in the work dirs.
"""
import argparse
import json
import os
import os.path as osp
import shutil
import statistics
import subprocess
import sys
import time
from typing import Dict, List

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
TRAIN = osp.join(REPO, 'tools', 'train.py')
SETS = {
    'synthetic': dict(
        teacher='configs/tiny/retinanet_r34w32_fpn_synthetic.py',
        student='configs/tiny/retinanet_r18w16_fpn_synthetic.py',
        era='configs/era/era_r34w32_to_r18w16_synthetic.py',
        data='data/synthetic/annotations/instances_val.json',
        make='make data-synthetic'),
    'deepforest': dict(
        teacher='configs/tiny/retinanet_mnv2_fpn_deepforest.py',
        student='configs/tiny/retinanet_r18w16_fpn_deepforest.py',
        era='configs/era/era_mnv2_to_r18w16_deepforest.py',
        data='data/deepforest/annotations/instances_val.json',
        make='make data-deepforest pretrained'),
}


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


def train(config: str, work_dir: str, options: List[str], label: str,
          reuse: bool = False) -> None:
    """Runs tools/train.py, streaming a short progress line per log line.

    A run that finished before with the same command is reused when
    ``reuse`` is set (its ``demo_done.json`` marker records the command).
    """
    marker = osp.join(work_dir, 'demo_done.json')
    cmd = [sys.executable, TRAIN, osp.join(REPO, config), '--work-dir',
           work_dir, '--cfg-options', *options]
    if reuse and osp.isfile(marker):
        with open(marker) as f:
            if json.load(f).get('cmd') == cmd[1:]:
                print(f'  [{label}] reusing the finished run in {work_dir}')
                return
    if osp.isdir(work_dir):
        shutil.rmtree(work_dir)  # a half-finished or different run
    os.makedirs(work_dir, exist_ok=True)
    start = time.time()
    with open(osp.join(work_dir, 'demo_stdout.log'), 'w') as log:
        # unbuffered: progress lines arrive while the run goes on
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True,
                                env=dict(os.environ, PYTHONUNBUFFERED='1'))
        for line in proc.stdout:
            log.write(line)
            if 'Iter(train)' in line or 'coco/bbox_mAP:' in line or \
                    'ST-mode sweep' in line:
                print(f'  [{label} {time.time() - start:5.0f}s] '
                      f'{line.split(" - INFO - ")[-1].strip()[:150]}',
                      flush=True)
        if proc.wait() != 0:
            raise SystemExit(f'{label} failed; see {log.name}')
    with open(marker, 'w') as f:
        json.dump(dict(cmd=cmd[1:], seconds=time.time() - start), f)


def val_history(work_dir: str) -> List[Dict[str, float]]:
    """The validation metrics logged by the run, in order."""
    runs = sorted(d for d in os.listdir(work_dir)
                  if osp.isfile(osp.join(work_dir, d, 'vis_data',
                                         'scalars.json')))
    path = osp.join(work_dir, runs[-1], 'vis_data', 'scalars.json')
    with open(path) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return [r for r in rows if 'coco/bbox_mAP' in r]


def final_metrics(work_dir: str) -> Dict[str, float]:
    last = val_history(work_dir)[-1]
    return dict(mAP=last['coco/bbox_mAP'], mAP50=last['coco/bbox_mAP_50'])


def best_alpha(work_dir: str) -> Dict[str, float]:
    with open(osp.join(work_dir, 'alpha_sweep.json')) as f:
        last = json.load(f)[-1]
    alpha, res = max(last['results'].items(),
                     key=lambda kv: kv[1]['coco/bbox_mAP'])
    return dict(mAP=res['coco/bbox_mAP'], mAP50=res['coco/bbox_mAP_50'],
                alpha=float(alpha))


def ensure_teacher(spec: dict, data: str, retrain: bool) -> str:
    teacher_dir = osp.join(REPO, 'work_dirs', f'teacher_{data}')
    cached = osp.join(teacher_dir, 'teacher.pth')
    if osp.isfile(cached) and not retrain:
        print(f'teacher: cached {cached}')
        return cached
    print(f'teacher: training {spec["teacher"]} (cached afterwards)')
    if osp.isdir(teacher_dir):
        shutil.rmtree(teacher_dir)
    train(spec['teacher'], teacher_dir, ['randomness.seed=0'], 'teacher')
    # The last checkpoint: the students are evaluated at their last one too.
    with open(osp.join(teacher_dir, 'last_checkpoint')) as f:
        last = f.read().strip()
    shutil.copyfile(last, cached + '.tmp')
    os.replace(cached + '.tmp', cached)
    return cached


def fmt(values: List[float]) -> str:
    if len(values) == 1:
        return f'{values[0]:.3f}'
    return f'{statistics.mean(values):.3f} +- {statistics.stdev(values):.3f}'


def main() -> None:
    args = parse_args()
    spec = SETS[args.data]
    if not osp.isfile(osp.join(REPO, spec['data'])):
        raise SystemExit(f'no {args.data} data at {spec["data"]}: run '
                         f'`{spec["make"]}` first.')
    work_dir = args.work_dir or osp.join(REPO, 'work_dirs',
                                         f'era_demo_{args.data}')
    start = time.time()
    teacher_ckpt = ensure_teacher(spec, args.data, args.retrain_teacher)
    teacher = final_metrics(osp.dirname(teacher_ckpt))
    rows = {'baseline': [], 'era_s': [], 'era_st': []}
    for seed in args.seeds:
        seed_opt = f'randomness.seed={seed}'
        base_dir = osp.join(work_dir, f'baseline_seed{seed}')
        era_dir = osp.join(work_dir, f'era_seed{seed}')
        print(f'seed {seed}: baseline student')
        train(spec['student'], base_dir, [seed_opt], f'baseline s{seed}',
              reuse=not args.fresh)
        print(f'seed {seed}: ERA student')
        train(spec['era'], era_dir,
              [seed_opt, f'model.teacher_ckpt={teacher_ckpt}',
               *args.cfg_options], f'ERA s{seed}', reuse=not args.fresh)
        rows['baseline'].append(final_metrics(base_dir))
        rows['era_s'].append(final_metrics(era_dir))
        rows['era_st'].append(best_alpha(era_dir))

    print(f'\nERA demo on {args.data}, seeds {args.seeds}, '
          f'{time.time() - start:.0f} s (final validation of each run)')
    print(f'| model | bbox mAP | mAP50 | per seed (mAP) |')
    print('| --- | --- | --- | --- |')
    print(f'| teacher ({osp.basename(spec["teacher"])}) | {teacher["mAP"]:.3f} '
          f'| {teacher["mAP50"]:.3f} | |')
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
