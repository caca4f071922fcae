"""One method's training-step time and deployed inference cost.

Run by ``tools/benchmark/methods.py`` in a child process per method (so the
timings do not share a process); see that script for what is measured and
:mod:`mmera.runs.method_cost` for how. On its own::

    python tools/benchmark/method_cost.py era --data synthetic --iters 2

prints one line, ``METHOD_COST_RESULT {json}``.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from _bootstrap import ensure_mmera_importable  # noqa: E402

ensure_mmera_importable()

from mmera.runs.children import emit  # noqa: E402
from mmera.runs.methods import METHODS, PAIRS  # noqa: E402

#: The marker of the result line (read by ``methods.py``).
MARK = 'METHOD_COST_RESULT '


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('method', choices=list(METHODS))
    parser.add_argument('--data', choices=sorted(PAIRS), default='deepforest')
    parser.add_argument('--teacher-ckpt', help='default: the config\'s')
    parser.add_argument('--checkpoint', help='the trained weights (default: '
                        'initial weights)')
    parser.add_argument('--iters', type=int, default=4,
                        help='timed steps per schedule point')
    parser.add_argument('--points', type=int, default=4,
                        help='schedule points timed')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    from mmera.runs.method_cost import measure  # torch, mmdet: after --help
    emit(MARK, measure(args.method, args.data, args.teacher_ckpt,
                       args.checkpoint, args.iters, args.points))


if __name__ == '__main__':
    main()
