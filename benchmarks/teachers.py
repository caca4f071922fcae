"""The tiny sets and their teachers: which config, which checkpoint.

The tiny distillation configs (``configs/<method>/*_500it_<data>.py``) load
their teacher from

    ``'{{ fileDirname }}/../../work_dirs/teacher_<data>/teacher.pth'``

i.e. ``<repo>/work_dirs/teacher_<data>/teacher.pth``, for the RetinaNet
pairs; the other detector families of the tiny configs (FCOS, ATSS, GFL,
RTMDet: :data:`DETECTOR_TEACHERS`) load theirs from
``<repo>/work_dirs/teacher_<detector>_<data>/teacher.pth``. One scheme,
:func:`teacher_work_dir`: ``teacher_[<detector>_]<data>``, the detector left
out for RetinaNet, the first family (whose paths predate the others).

This module is the one place that maps a set and a detector to its teacher
config and to that checkpoint (:func:`teacher_ckpt`); :func:`ensure_teacher`
trains the teacher config through ``tools/train.py`` into that work dir and
publishes its best validation's checkpoint (else its last) there as
``teacher.pth``, atomically (a reader never sees a half-written file).
``python -m benchmarks.train_teachers`` (``make teachers``) and the driver
(:mod:`benchmarks.results`) go through it.
"""
import json
import os
import os.path as osp
import shutil
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

from mmera.utils.atomic_files import atomic_output

from .paths import REPO_ROOT, WORK_DIRS, repo_path
from .shipped_teachers import (
    checkpoint_metrics,
    install_shipped,
    ship,
    shipped_record,
    teacher_checkpoint,
)
from .training import DONE_MARKER, train

#: The file name the distillation configs load from the teacher's work dir.
TEACHER_FILE = 'teacher.pth'
#: Beside it: the teacher config it was trained from (``{"config": ...}``).
SOURCE_FILE = 'teacher_source.json'
#: Options of every teacher run (the demo's students use seed 0 too).
TEACHER_OPTIONS = ('randomness.seed=0', )


@dataclass(frozen=True)
class TinySet:
    """One embedded data set of the tiny configs.

    Attributes:
        name: The set's name, the ``<data>`` of the config names.
        teacher_config: Its teacher config, relative to the repository.
        val_ann: A file that exists once the set is prepared.
        make: The make targets that prepare it.
    """
    name: str
    teacher_config: str
    val_ann: str
    make: str


SETS: Dict[str, TinySet] = {
    'synthetic': TinySet(
        'synthetic', 'configs/tiny/retinanet_r34w32_fpn_3000it_synthetic.py',
        'data/synthetic/annotations/instances_val.json',
        'make data-synthetic'),
    'deepforest': TinySet(
        'deepforest', 'configs/tiny/retinanet_mnv2_fpn_2000it_deepforest.py',
        'data/deepforest/annotations/instances_val.json',
        'make data-deepforest pretrained'),
}


#: The detector of :data:`SETS`' teacher configs; its work dirs are named
#: ``teacher_<data>`` (the others' ``teacher_<detector>_<data>``).
DEFAULT_DETECTOR = 'retinanet'
#: The other detector families of the tiny configs: detector -> {set: its
#: teacher config}. Each config is a plain mmdet detector; its student is the
#: ``configs/tiny/`` config of the same detector with the student backbone.
DETECTOR_TEACHERS: Dict[str, Dict[str, str]] = {
    'fcos': {'synthetic': 'configs/tiny/fcos_r34w32_fpn_500it_synthetic.py'},
    'atss': {'synthetic': 'configs/tiny/atss_r34w32_fpn_500it_synthetic.py'},
    'gfl': {'synthetic': 'configs/tiny/gfl_r34w32_fpn_3000it_synthetic.py'},
    'rtmdet': {
        'synthetic':
        'configs/tiny/rtmdet_cspnextw24_cspnextpafpn_500it_synthetic.py'
    },
    'fasterrcnn': {
        'synthetic': 'configs/tiny/fasterrcnn_r34w32_fpn_500it_synthetic.py'
    },
    # the RetinaNet teacher at 192 px, trained as long as the longest plain
    # student of the plateau study at 192 px
    'retinanet-32000it-192': {
        'synthetic':
        'configs/tiny/retinanet_r34w32_fpn_32000it_synthetic-192.py'
    },
    # the same for GFL
    'gfl-32000it-192': {
        'synthetic': 'configs/tiny/gfl_r34w32_fpn_32000it_synthetic-192.py'
    },
}


def get_set(data: str) -> TinySet:
    """The :class:`TinySet` called ``data``.

    Raises:
        KeyError: For an unknown set (the message lists the known ones).
    """
    if data not in SETS:
        raise KeyError(f'unknown data set {data!r}; known: {sorted(SETS)}')
    return SETS[data]


def require_data(data: str) -> None:
    """Checks that the set was prepared (its validation annotations exist).

    Raises:
        FileNotFoundError: If not; the message names the make target.
    """
    spec = get_set(data)
    if not osp.isfile(repo_path(spec.val_ann)):
        raise FileNotFoundError(f'no {data} data at {spec.val_ann}: run '
                                f'`{spec.make}` first.')


def detectors(data: str) -> List[str]:
    """The detectors with a tiny teacher on ``data``, RetinaNet first.

    Raises:
        KeyError: For an unknown set.
    """
    get_set(data)
    return [DEFAULT_DETECTOR] + [
        d for d, configs in DETECTOR_TEACHERS.items() if data in configs
    ]


def _teacher_config_rel(data: str, detector: str) -> str:
    """The teacher config of ``detector`` on ``data``, repository-relative.

    Raises:
        KeyError: For an unknown set, or a detector without a teacher on it
            (the message lists the known ones).
    """
    spec = get_set(data)
    if detector == DEFAULT_DETECTOR:
        return spec.teacher_config
    if data not in DETECTOR_TEACHERS.get(detector, {}):
        raise KeyError(f'no tiny {detector!r} teacher on {data!r}; known: '
                       f'{detectors(data)}')
    return DETECTOR_TEACHERS[detector][data]


def teacher_config(data: str, detector: str = DEFAULT_DETECTOR) -> str:
    """The absolute path of the set's teacher config (of ``detector``)."""
    return repo_path(_teacher_config_rel(data, detector))


def teacher_name(data: str, detector: str = DEFAULT_DETECTOR) -> str:
    """The teacher's name, ``teacher_[<detector>_]<data>`` (no detector for
    :data:`DEFAULT_DETECTOR`): its work dir's and its shipped files'."""
    _teacher_config_rel(data, detector)
    return (f'teacher_{data}' if detector == DEFAULT_DETECTOR else
            f'teacher_{detector}_{data}')


def teacher_work_dir(data: str, work_root: Optional[str] = None,
                     detector: str = DEFAULT_DETECTOR) -> str:
    """The teacher's work dir, ``<work_root>/<teacher_name>``.

    Args:
        data: The set.
        work_root: The root of the work dirs; default ``<repo>/work_dirs``,
            where the configs look.
        detector: The detector family (a key of :data:`DETECTOR_TEACHERS`,
            or :data:`DEFAULT_DETECTOR`, whose dir is ``teacher_<data>``).

    Returns:
        str: The absolute path.
    """
    return osp.abspath(osp.join(work_root or WORK_DIRS,
                                teacher_name(data, detector)))


def teacher_ckpt(data: str, work_root: Optional[str] = None,
                 detector: str = DEFAULT_DETECTOR) -> str:
    """The teacher checkpoint, ``<teacher_work_dir>/teacher.pth``.

    With the default ``work_root`` this is the file the set's distillation
    configs of ``detector`` load (their ``model.teacher_ckpt``).
    """
    return osp.join(teacher_work_dir(data, work_root, detector), TEACHER_FILE)


def publish_teacher(work_dir: str, path: str) -> str:
    """Copies the run's teacher checkpoint to ``path``, atomically: its best
    validation's, else its last
    (:func:`~benchmarks.shipped_teachers.teacher_checkpoint`).

    Returns:
        str: ``path``.
    """
    with atomic_output(path) as tmp:
        shutil.copyfile(teacher_checkpoint(work_dir), tmp)
    return path


def ensure_teacher(data: str, retrain: bool = False,
                   work_root: Optional[str] = None,
                   options: Sequence[str] = (),
                   detector: str = DEFAULT_DETECTOR,
                   train_missing: bool = True) -> Optional[str]:
    """Returns the set's teacher checkpoint, training the teacher if needed.

    An existing ``teacher.pth`` is kept unless ``retrain``; else, with the
    default ``work_root`` and no ``options``, the copy shipped for the set's
    teacher config is installed (:mod:`benchmarks.shipped_teachers`);
    failing that the teacher config is trained through ``tools/train.py``
    into :func:`teacher_work_dir` and its best checkpoint published.

    Args:
        data: The set.
        retrain: Train again even if the checkpoint exists.
        work_root: The root of the work dirs (default ``<repo>/work_dirs``).
        options: Extra ``--cfg-options`` of the teacher run (after
            :data:`TEACHER_OPTIONS`).
        detector: The detector family (default RetinaNet, the set's
            :class:`TinySet` teacher).
        train_missing: Train the teacher when no checkpoint is there and
            none is shipped (False: install a shipped copy only, as a
            report that trains nothing needs).

    Returns:
        str | None: The checkpoint's absolute path; None when it is not
        there and ``train_missing`` is False.
    """
    work_dir = teacher_work_dir(data, work_root, detector)
    ckpt = teacher_ckpt(data, work_root, detector)
    label = _label(data, detector)
    config = _teacher_config_rel(data, detector)
    if osp.isfile(ckpt) and not retrain:
        if _source(work_dir) in (None, config):  # None: nothing says
            print(f'teacher ({label}): cached {ckpt}')
            return ckpt
        _set_aside(work_dir, ckpt, label)
    shippable = not (retrain or work_root or options)
    if shippable and install_shipped(osp.basename(work_dir), config, ckpt):
        print(f'teacher ({label}): installed the copy shipped in '
              f'teachers/{osp.basename(work_dir)}.fp16.pth as {ckpt}')
    elif not train_missing:
        print(f'teacher ({label}): none at {ckpt} and none shipped; not '
              'trained')
        return None
    else:
        print(f'teacher ({label}): training {config} into {work_dir} '
              '(cached afterwards)')
        train(teacher_config(data, detector), work_dir,
              [*TEACHER_OPTIONS, *options], f'teacher {label}',
              reuse=not retrain)
        publish_teacher(work_dir, ckpt)
    with atomic_output(osp.join(work_dir, SOURCE_FILE)) as tmp:
        with open(tmp, 'w') as f:
            json.dump(dict(config=config), f)
    return ckpt


def _source(work_dir: str) -> Optional[str]:
    """The teacher config ``teacher.pth`` was made from: its record, else
    (a teacher published before records existed) the config of the run
    that trained it; None if neither says."""
    for name, key in ((SOURCE_FILE, 'config'), (DONE_MARKER, 'cmd')):
        try:
            with open(osp.join(work_dir, name)) as f:
                value = json.load(f)[key]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if key == 'cmd':  # [tools/train.py, <config>, ...]
            value = osp.relpath(value[1], REPO_ROOT) if len(value) > 1 \
                else None
        if isinstance(value, str):
            return value
    return None


def _set_aside(work_dir: str, ckpt: str, label: str) -> None:
    """Keeps a teacher made from another config beside the work dir as
    ``<work dir>__<its config's name>.pth`` (outside it: training the
    current config may clear the work dir), so the set's current teacher
    config is provided in its place. Never deleted."""
    old = _source(work_dir)
    kept = f'{work_dir}__{osp.splitext(osp.basename(old))[0]}.pth'
    os.replace(ckpt, kept)
    print(f'teacher ({label}): {ckpt} was made from {old}, not the set\'s '
          f'teacher config today; kept as {kept}')


def ship_teacher(data: str, detector: str = DEFAULT_DETECTOR) -> str:
    """Keeps the set's finished teacher run (default work root) with the
    repository, in fp16 (:func:`~benchmarks.shipped_teachers.ship`).

    Returns:
        str: The shipped weights' path.
    """
    work_dir = teacher_work_dir(data, None, detector)
    return ship(work_dir, osp.basename(work_dir),
                _teacher_config_rel(data, detector))


def _label(data: str, detector: str) -> str:
    """``synthetic`` for RetinaNet (the set's teacher), else
    ``fcos synthetic``."""
    return data if detector == DEFAULT_DETECTOR else f'{detector} {data}'


def teacher_metrics(data: str, work_root: Optional[str] = None,
                    detector: str = DEFAULT_DETECTOR) -> Dict[str, float]:
    """The val bbox mAP / mAP50 of the teacher's checkpoint (its run's best
    validation, else its last); for a teacher installed from its shipped
    copy, the metrics recorded with it (empty if neither)."""
    work_dir = teacher_work_dir(data, work_root, detector)
    try:
        metrics = checkpoint_metrics(work_dir, teacher_checkpoint(work_dir))
    except (OSError, IndexError, KeyError, ValueError):
        metrics = {}
    if metrics or work_root is not None:
        return metrics
    record = shipped_record(osp.basename(work_dir),
                            _teacher_config_rel(data, detector))
    return dict(record['metrics']) if record else {}
