"""The distillation methods of the tiny configs and their config files.

Every method has one config per tiny set (:data:`mmera.runs.teachers.SETS`);
the distillers' names carry the teacher -> student pair (:data:`PAIRS`),
e.g. ``configs/era/era_retinanet_r34w32-r18w16_fpn_500it_synthetic.py``.
"""
import os.path as osp
from typing import Dict, Sequence, Tuple

from .paths import repo_path
from .training import final_metrics, last_checkpoint, run_seconds, train

#: method -> (config per data set, whether it loads the tiny teacher)
METHODS: Dict[str, Tuple[str, bool]] = {
    'student': ('configs/tiny/retinanet_r18w16_fpn_500it_{data}.py', False),
    'era': ('configs/era/era_retinanet_{pair}-r18w16_fpn_500it_{data}.py',
            True),
    'fitnet': ('configs/fitnet/fitnet_retinanet_{pair}-r18w16_fpn_500it_'
               '{data}.py', True),
    'pkd': ('configs/pkd/pkd_retinanet_{pair}-r18w16_fpn_500it_{data}.py',
            True),
    'rkd': ('configs/rkd/rkd_retinanet_{pair}-r18w16_fpn_500it_{data}.py',
            True),
    'reskd': ('configs/reskd/reskd_retinanet_{pair}-r18w16_fpn_500it_'
              '{data}.py', True),
    'sskd': ('configs/sskd/sskd_retinanet_{pair}-r18w16_fpn_500it_{data}.py',
             True),
    'trunk_branch': ('configs/trunk_branch/trunk-branch_retinanet_r18w16_'
                     'fpn_500it_{data}.py', False),
}
#: data set -> the teacher's short name in the distillers' config names
PAIRS: Dict[str, str] = {'deepforest': 'mnv2', 'synthetic': 'r34w32'}


def config_of(method: str, data: str) -> str:
    """The absolute path of ``method``'s config on the set ``data``.

    Args:
        method: A key of :data:`METHODS`.
        data: A key of :data:`PAIRS`.

    Returns:
        str: The config file's path.
    """
    return repo_path(METHODS[method][0].format(pair=PAIRS[data], data=data))


def uses_teacher(method: str) -> bool:
    """Whether ``method``'s config loads the tiny teacher checkpoint."""
    return METHODS[method][1]


def train_methods(methods: Sequence[str], data: str, work_dir: str,
                  teacher_ckpt: str, seed: int = 0,
                  reuse: bool = True) -> Dict[str, Dict]:
    """Trains (or reuses) every method's run on ``data``.

    Each method's config runs its full schedule through ``tools/train.py``
    into ``<work_dir>/<method>`` (see :func:`mmera.runs.training.train`).

    Args:
        methods: Keys of :data:`METHODS`.
        data: The tiny set.
        work_dir: The root of the runs.
        teacher_ckpt: The teacher checkpoint given to the distillers.
        seed: ``randomness.seed`` of every run.
        reuse: Keep a finished run of the same command.

    Returns:
        dict: method -> ``mAP``, ``mAP50`` (final validation), ``train_s``
        and ``checkpoint`` (the last one).
    """
    metrics = {}
    for method in methods:
        run_dir = osp.join(work_dir, method)
        options = [f'randomness.seed={seed}']
        if uses_teacher(method):
            options.append(f'model.teacher_ckpt={teacher_ckpt}')
        train(config_of(method, data), run_dir, options, method, reuse=reuse)
        metrics[method] = dict(final_metrics(run_dir),
                               train_s=run_seconds(run_dir),
                               checkpoint=last_checkpoint(run_dir))
    return metrics
