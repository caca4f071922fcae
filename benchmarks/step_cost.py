"""Train-step cost of ERA against the student, a distiller floor and LD.

On ONE fixed, preprocessed batch, every mode runs ``--warmup`` untimed steps
then ``--iters`` timed steps (forward + backward + SGD step) and reports the
median step time, the peak memory and its trainable parameters:

* ``student``: the student detector alone (its own loss);
* ``floor``: the student step plus a ``no_grad`` teacher ``extract_feat``,
  the least any feature distiller can cost;
* ``era_all`` / ``era_sampled`` / ``era_last`` / ``era_notwi``: ERADistiller
  with ``twi_mode`` ``'all'`` / ``'sampled'`` / ``'last'`` / ``'none'``
  (``era_notwi`` is MBRNet alone, separating MBRNet's cost from TWI's);
* ``era_cheap``: the ``configs/era/era-fast_*`` setting: bottleneck MBRNet
  branches, one sampled TWI pass per step, bf16 TWI (the same model as
  ``era_sampled+bottleneck+bf16``);
* any ERA mode with ``+bottleneck`` (bottleneck MBRNet branches: 1x1 ->
  3x3 -> 1x1 at a quarter of the teacher neck's width), ``+bf16`` (the
  frozen TWI heads' forward under bf16 autocast) and/or ``+halftwi`` (TWI
  on a random half of the steps), e.g. ``era_all+bottleneck+bf16``;
* ``ld``: mmdet's ``KnowledgeDistillationSingleStageDetector`` (LD, a GFL
  teacher) with the same backbones and necks; a peer with its own
  (GFL-style) head, so its numbers include a different head.

Each mode runs in its own subprocess (the script re-invokes itself with
``--single MODE``), so peak memory is per mode: on CUDA
``torch.cuda.max_memory_allocated`` (weights, optimizer state, activations);
on CPU the process's peak RSS (``ru_maxrss``), and the peak above the
imports: minus the RSS the process had before building anything (torch,
mmdet, mmera imported; ~0.5 GB), the memory the mode itself needs. The table
gives each ratio to the floor and checks the cost goals of ``era_all``,
``era_sampled`` and ``era_cheap`` (:data:`benchmarks.step_modes.GOALS`).
Weights are random; nothing downloads. The models are in
:mod:`benchmarks.step_modes`, the timer is
:func:`mmera.analysis.step_timer.time_train_steps` (every step is
``model.train_step``: preprocessing, forward, backward, optimizer step).

Example (from the repository root)::

    python -m benchmarks.step_cost --config tiny --iters 20
    python -m benchmarks.step_cost --config coco --device cuda \\
        --modes student floor era_all era_sampled --json work_dirs/cost.json
"""
import argparse
import json
import os
import os.path as osp
import platform
import statistics
import sys
import tempfile
from typing import Dict, List, Optional

import torch

from .children import emit, sweep
from .step_modes import (
    ERA_CONFIGS,
    GOALS,
    HALF_TWI,
    MODES,
    check_mode,
    default_size,
    run_single,
    write_teacher_ckpt,
)

MARK = 'TRAIN_STEP_RESULT '


def fmt(value: Optional[float], spec: str) -> str:
    """``value`` formatted by ``spec``, ``n/a`` for None."""
    return 'n/a' if value is None else format(value, spec)


def expected_step_ms(result: Dict, probability: float = HALF_TWI
                     ) -> Optional[float]:
    """The expected step time of a mode that runs TWI on a random share
    ``probability`` of the steps: ``p * mean(steps with TWI) + (1 - p) *
    mean(steps without)``, so the share of TWI steps that the few timed
    steps happened to draw does not bias the cost; None unless both kinds
    of step were timed."""
    on = [t for t, twi in zip(result['times_ms'], result['twi_steps'])
          if twi]
    off = [t for t, twi in zip(result['times_ms'], result['twi_steps'])
           if not twi]
    if not on or not off:
        return None
    return (probability * statistics.fmean(on) +
            (1 - probability) * statistics.fmean(off))


def teacher_share(results: List[Dict]) -> Optional[float]:
    """The frozen teacher forward's share of the floor's step, ``1 -
    student / floor`` (None without both modes)."""
    ref = {r['mode']: r.get('median_ms') for r in results}
    if ref.get('floor') and ref.get('student'):
        return 1.0 - ref['student'] / ref['floor']
    return None


def goal(mode: str, time_ratio: Optional[float],
         memory_ratio: Optional[float]) -> str:
    """The mode's cost goal (:data:`GOALS`, by its base mode) and whether
    the measured ratios to the floor meet it; empty without a goal."""
    limits = GOALS.get(mode.split('+')[0])
    if not limits or time_ratio is None:
        return ''
    checks = [('time', time_ratio)] + (
        [('memory', memory_ratio)] if 'memory' in limits else [])
    return ', '.join(
        f"{key} <= {limits[key]:.2f} "
        f"{'met' if value is not None and value <= limits[key] else 'MISSED'}"
        for key, value in checks)


def table(results: List[Dict]) -> str:
    """The markdown table; ratios divide by floor's / student's median (for
    ``+halftwi`` modes, whose steps alternate at random
    between two costs, their expected step over the floor's / student's
    mean: :func:`expected_step_ms`, or their mean); the spread is the
    interquartile range of every round's step times; memory is the peak
    above the imports (on CPU the peak RSS minus the RSS of the imports
    alone, in the same process)."""
    refs = {key: {r['mode']: r.get(key) for r in results}
            for key in ('median_ms', 'mean_ms', 'net_peak_mb')}
    refs['expected_ms'] = refs['mean_ms']  # the floor/student: plain means
    rows = ['| mode | median step (ms) | spread p25-p75 (ms) | mean (ms) | '
            'ratio to floor | ratio to student | peak memory (MB) | '
            'above imports (MB) | memory ratio to floor | '
            'trainable params (M) | goal |',
            '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|']
    for r in results:
        if 'error' in r:
            rows.append(f"| {r['mode']} | failed: {r['error']} "
                        '| | | | | | | | | |')
            continue  # the error's last line; its stderr went to stderr
        ms = r['median_ms']
        key = 'median_ms'
        if uses_mean(r['mode']):
            key = 'expected_ms' if r.get('expected_ms') else 'mean_ms'
        ratios = [r[key] / refs[key][k] if refs[key].get(k) else None
                  for k in ('floor', 'student')]
        floor_mb = refs['net_peak_mb'].get('floor')
        mem_ratio = r['net_peak_mb'] / floor_mb if floor_mb else None
        name = r['mode'] + {
            'mean_ms': ' (ratios of means)',
            'expected_ms': ' (ratios of the expected step)'}.get(
                key, ' (own LDHead/GFL head)' if r['mode'] == 'ld' else '')
        spread = f"{r['p25_ms']:.0f}-{r['p75_ms']:.0f}"
        rows.append(f"| {name} | {ms:.1f} | {spread} | {r['mean_ms']:.1f} | "
                    f"{fmt(ratios[0], '.2f')} | "
                    f"{fmt(ratios[1], '.2f')} | {r['peak_mb']:.0f} | "
                    f"{r['net_peak_mb']:.0f} | {fmt(mem_ratio, '.2f')} | "
                    f"{r['params_m']:.3f} | "
                    f"{goal(r['mode'], ratios[0], mem_ratio)} |")
    return '\n'.join(rows)


def uses_mean(mode: str) -> bool:
    """Whether ``mode`` is compared by its mean step: TWI on a random half
    of the steps (``+halftwi``) makes the median one of two costs."""
    return 'halftwi' in mode.split('+')[1:]


def _mode(value: str) -> str:
    try:
        return check_mode(value)
    except ValueError as err:  # argparse's own 'invalid value' message
        raise argparse.ArgumentTypeError(str(err)) from err


def parse_args() -> argparse.Namespace:
    """The command line's options, with the config's default sizes."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', choices=sorted(ERA_CONFIGS),
                        default='tiny')
    parser.add_argument('--img-size', type=int, help='default: tiny* 320, '
                        'coco* 512')
    parser.add_argument('--batch', type=int, help='default: tiny* 4, coco* 2')
    parser.add_argument('--iters', type=int, default=20,
                        help='timed steps (>= 10 for a spread worth '
                        'reading)')
    parser.add_argument('--warmup', type=int, default=3, help='untimed steps')
    parser.add_argument('--device', default='cuda'
                        if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--modes', nargs='+', type=_mode,
                        default=list(MODES),
                        help=f'of {list(MODES)}; an ERA mode may add '
                        '+bottleneck, +bf16 and/or +halftwi (e.g. '
                        'era_all+bf16)')
    parser.add_argument('--threads', type=int, help='torch.set_num_threads')
    parser.add_argument('--rounds', type=int, default=3,
                        help='sweeps over the modes, each in a rotated order; '
                        'the median is taken over all rounds, so a slow '
                        'spell of a shared machine hits every mode alike')
    parser.add_argument('--json', help='also save the results here')
    parser.add_argument('--single', type=_mode, help=argparse.SUPPRESS)
    parser.add_argument('--teacher-ckpt', help=argparse.SUPPRESS)
    args = parser.parse_args()
    img, batch = default_size(args.config)
    args.img_size = args.img_size or img
    args.batch = args.batch or batch
    return args


def merge_rounds(args: argparse.Namespace) -> List[Dict]:
    """Runs every mode in its own subprocess, one after the other (timings
    must not overlap), ``--rounds`` sweeps in rotated orders, and pools each
    mode's step times (median over all of them) and peak memory (max); a
    failed mode gets an ``error`` entry."""
    env = dict(os.environ)
    if args.threads:  # so OpenMP/MKL in the children match torch's threads
        env.update(OMP_NUM_THREADS=str(args.threads),
                   MKL_NUM_THREADS=str(args.threads))
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = osp.join(tmp, 'teacher.pth')
        if any(m.startswith('era') for m in args.modes):
            write_teacher_ckpt(args.config, ckpt)

        def command(mode: str) -> List[str]:
            cmd = [sys.executable, '-m', 'benchmarks.step_cost', '--single',
                   mode, '--teacher-ckpt', ckpt]
            for key in ('config', 'img_size', 'batch', 'iters', 'warmup',
                        'device', 'threads'):
                if getattr(args, key) is not None:
                    cmd += ['--' + key.replace('_', '-'),
                            str(getattr(args, key))]
            return cmd

        pooled = sweep(args.modes, args.rounds, command, MARK, env=env,
                       max_keys=('peak_mb', 'net_peak_mb'),
                       concat_keys=('times_ms', 'twi_steps'))
    results = [dict(pooled[m], mode=m) for m in args.modes]
    for r in results:
        if 'times_ms' in r and uses_mean(r['mode']):
            r['expected_ms'] = expected_step_ms(r)
    return results


def device_name(device: str) -> str:
    """The GPU's name, or the CPU's architecture and logical core count."""
    if device.startswith('cuda'):
        return torch.cuda.get_device_name(torch.device(device))
    return f'cpu ({platform.machine()}, {os.cpu_count()} logical cores)'


def main() -> None:
    """Times the modes (or, with ``--single``, one mode) and prints the
    table."""
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.single:  # child: one mode, one JSON line on stdout
        emit(MARK, run_single(args.single, args.config, args.img_size,
                              args.batch, args.iters, args.warmup,
                              args.device, args.teacher_ckpt))
        return
    results = merge_rounds(args)
    mem = ('torch.cuda.max_memory_allocated' if args.device.startswith('cuda')
           else 'process peak RSS (and above the imports: minus the RSS '
           'of the imports alone, in the same process)')
    header = (f'device: {device_name(args.device)}; torch '
              f'{torch.__version__}; config: {args.config}; batch '
              f'{args.batch}; img {args.img_size}x{args.img_size}; threads '
              f'{torch.get_num_threads()}; {args.rounds} rounds x ('
              f'{args.warmup} warm-up + {args.iters} timed steps); '
              f'memory: {mem}')
    share = teacher_share(results)
    if share is not None:
        header += (f'; the teacher forward is {100 * share:.0f}% of the '
                   'floor step')
    print(header + '\n\n' + table(results))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(header=header, args=vars(args), results=results),
                      f, indent=2)


if __name__ == '__main__':
    main()
