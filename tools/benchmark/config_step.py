"""One config's training-step time, in a process of its own.

Run by ``tools/benchmark/results.py --step-times`` once per config of a
suite (see :mod:`mmera.runs.step_times`); on its own::

    python tools/benchmark/config_step.py CONFIG --iters 3 --points 2

prints one line, ``CONFIG_STEP_RESULT {json}``: the step times (ms) on the
config's first real training batch and its schedule's iterations.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from _bootstrap import ensure_mmera_importable  # noqa: E402

ensure_mmera_importable()

from mmera.runs.children import emit  # noqa: E402
from mmera.runs.step_times import MARK  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--iters', type=int, default=4,
                        help='timed steps per schedule point')
    parser.add_argument('--points', type=int, default=2,
                        help='schedule points timed')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    from mmera.runs.method_cost import config_step_times  # torch: after -h
    emit(MARK, config_step_times(args.config, args.iters, args.points))


if __name__ == '__main__':
    main()
