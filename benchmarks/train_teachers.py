"""Trains the teachers of the tiny distillation configs (``make teachers``).

    python -m benchmarks.train_teachers [--data synthetic deepforest]
        [--detectors retinanet fcos atss gfl rtmdet fasterrcnn | all]
        [--retrain] [--ship]

For every set, trains its teacher config

* synthetic: ``configs/tiny/retinanet_r34w32_fpn_3000it_synthetic.py``
* deepforest: ``configs/tiny/retinanet_mnv2_fpn_2000it_deepforest.py``

(converged: trained until their validation mAP plateaus)

through ``tools/train.py`` into ``work_dirs/teacher_<data>/`` and publishes
its best validation's checkpoint (else its last), atomically, as exactly
``work_dirs/teacher_<data>/teacher.pth``: the ``model.teacher_ckpt`` of the
set's distillation configs (``configs/<method>/*_500it_<data>.py``). A
teacher that exists already is kept unless ``--retrain``. The mapping lives
in :mod:`benchmarks.teachers`.

``--detectors`` picks the detector families (default: ``retinanet``, the
teachers above; ``all``: every family with a teacher on the set). The other
families' teachers (synthetic set only: ``configs/tiny/fcos_r34w32_*``,
``atss_r34w32_*``, ``gfl_r34w32_*``, ``rtmdet_cspnextw24_*``) go to
``work_dirs/teacher_<detector>_<data>/teacher.pth``, the ``teacher_ckpt`` of
``configs/era/era_<detector>_*_500it_<data>.py``.

``--work-root`` writes ``<work-root>/teacher_<data>/teacher.pth`` instead
(then give it to the distillers with ``--cfg-options model.teacher_ckpt=``);
``--cfg-options`` go to the teacher's training run, e.g. a quick check::

    python -m benchmarks.train_teachers --work-root /tmp/t --cfg-options \\
        train_cfg.max_iters=2 train_cfg.val_interval=2
"""
import argparse
from typing import List, Sequence, Tuple

from .teachers import (
    DEFAULT_DETECTOR,
    DETECTOR_TEACHERS,
    SETS,
    detectors,
    ensure_teacher,
    ship_teacher,
    teacher_metrics,
)


def parse_args() -> argparse.Namespace:
    """The command line's options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--data', nargs='+', choices=sorted(SETS),
                        default=['synthetic'],
                        help='the sets whose teachers are trained '
                        '(default: synthetic)')
    parser.add_argument('--detectors', nargs='+',
                        choices=[DEFAULT_DETECTOR, *DETECTOR_TEACHERS, 'all'],
                        default=[DEFAULT_DETECTOR],
                        help='the detector families whose teachers are '
                        'trained (default: retinanet; all: every family '
                        'with a teacher on the set, not the longer-trained '
                        'variants)')
    parser.add_argument('--retrain', action='store_true',
                        help='train again even if teacher.pth exists')
    parser.add_argument('--work-root', help='the root of the teachers\' work '
                        'dirs (default: the repository\'s work_dirs, where '
                        'the configs look)')
    parser.add_argument('--ship', action='store_true',
                        help='also keep each teacher with the repository: '
                        'fp16 weights, checksum, command, curve and log in '
                        'teachers/ (default work root only)')
    parser.add_argument('--cfg-options', nargs='+', default=[],
                        metavar='KEY=VALUE', help='passed to tools/train.py '
                        'for the teacher runs')
    args = parser.parse_args()
    if args.ship and (args.work_root or args.cfg_options):
        parser.error('--ship keeps the teachers the configs load: drop '
                     '--work-root and --cfg-options')
    return args


def plan(data_sets: Sequence[str],
         wanted: Sequence[str]) -> List[Tuple[str, str]]:
    """The (data, detector) pairs to train, in order.

    Raises:
        SystemExit: If a named detector has no teacher on a named set.
    """
    pairs = []
    for data in data_sets:
        known = detectors(data)
        if 'all' in wanted:  # the families; a variant (a longer-trained
            # teacher, retinanet-32000it-192) only when named
            pairs += [(data, det) for det in known if '-' not in det]
            continue
        missing = [det for det in wanted if det not in known]
        if missing:
            raise SystemExit(f'no tiny teacher for {missing} on {data}; '
                             f'known: {known}')
        pairs += [(data, det) for det in wanted]
    return pairs


def main() -> None:
    """Ensures (trains or installs) every teacher asked."""
    args = parse_args()
    done = {}
    for data, det in plan(args.data, args.detectors):
        done[data, det] = ensure_teacher(data, args.retrain, args.work_root,
                                         args.cfg_options, detector=det)
        if args.ship:
            try:
                print(f'shipped: {ship_teacher(data, det)}')
            except (OSError, ValueError) as e:  # no run of it here
                raise SystemExit(f'--ship: {e}')
    for (data, det), ckpt in done.items():
        metrics = teacher_metrics(data, args.work_root, det)
        score = (f' (val bbox mAP {metrics["mAP"]:.3f}, mAP50 '
                 f'{metrics["mAP50"]:.3f})' if metrics else '')
        name = data if det == DEFAULT_DETECTOR else f'{det} {data}'
        print(f'teacher {name}: {ckpt}{score}')


if __name__ == '__main__':
    main()
