"""Which distiller trains on which teacher -> student pair, offline.

For a pair of detector configs and a method, :func:`probe` builds the model
with random weights (``Pretrained`` inits stripped: nothing downloads) and
trains one step on two random images; the answer is ``trains``, the
message the method refuses the pair with, ``unavailable`` (a config that
cannot be loaded here) or ``crashes`` (with its traceback: a bug).
:data:`PAIRS` are mmdet's own COCO pairs; :func:`markdown` makes a table of
results with each message numbered once.
"""
import re
import traceback
from typing import Dict, List, Tuple

import torch
from mmdet.registry import MODELS
from mmengine.logging import MessageHub
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import init_default_scope
from torch import nn

from .baselines import build_head_init, build_ld
from .offline import (
    batch_needs,
    init_checkpoint_only_weights,
    offline_model,
    train_data,
)

#: pair name -> (teacher config, student config), mmdet's own files
PAIRS: Dict[str, Tuple[str, str]] = {
    'RetinaNet R101 -> R50': ('retinanet/retinanet_r101_fpn_1x_coco.py',
                              'retinanet/retinanet_r50_fpn_1x_coco.py'),
    'GFL R101 ms-2x -> R50': ('gfl/gfl_r101_fpn_ms-2x_coco.py',
                              'gfl/gfl_r50_fpn_1x_coco.py'),
    'ATSS R101 -> R50': ('atss/atss_r101_fpn_1x_coco.py',
                         'atss/atss_r50_fpn_1x_coco.py'),
    'FCOS R101 -> R50 (caffe)': (
        'fcos/fcos_r101-caffe_fpn_gn-head-1x_coco.py',
        'fcos/fcos_r50-caffe_fpn_gn-head_1x_coco.py'),
    'RTMDet s -> tiny': ('rtmdet/rtmdet_s_8xb32-300e_coco.py',
                         'rtmdet/rtmdet_tiny_8xb32-300e_coco.py'),
    'RTMDet l -> m': ('rtmdet/rtmdet_l_8xb32-300e_coco.py',
                      'rtmdet/rtmdet_m_8xb32-300e_coco.py'),
    'Faster R-CNN R101 -> R50': (
        'faster_rcnn/faster-rcnn_r101_fpn_1x_coco.py',
        'faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'),
    'Mask R-CNN R101 -> R50': ('mask_rcnn/mask-rcnn_r101_fpn_1x_coco.py',
                               'mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'),
    'Cascade R-CNN R101 -> R50': (
        'cascade_rcnn/cascade-rcnn_r101_fpn_1x_coco.py',
        'cascade_rcnn/cascade-rcnn_r50_fpn_1x_coco.py'),
    'Faster R-CNN R101 -> RetinaNet R50': (
        'faster_rcnn/faster-rcnn_r101_fpn_1x_coco.py',
        'retinanet/retinanet_r50_fpn_1x_coco.py'),
    'RetinaNet Swin-T -> R50': ('swin/retinanet_swin-t-p4-w7_fpn_1x_coco.py',
                                'retinanet/retinanet_r50_fpn_1x_coco.py'),
    'RTMDet-l ConvNeXt-B -> RTMDet-m': (
        'rtmdet/rtmdet_l_convnext_b_4xb32-100e_coco.py',
        'rtmdet/rtmdet_m_8xb32-300e_coco.py'),
    'RetinaNet R101 -> DETR R50': ('retinanet/retinanet_r101_fpn_1x_coco.py',
                                   'detr/detr_r50_8xb2-150e_coco.py'),
}
#: column -> distiller type (Trunk-to-Branch is teacher-free; LD is mmdet's
#: detector, head-init the plain student with its head loaded:
#: :mod:`mmera.analysis.baselines`)
METHODS: Dict[str, str] = {
    'ERA': 'ERADistiller', 'FitNet': 'FitNetDistiller',
    'PKD': 'PKDDistiller', 'RKD': 'RKDDistiller', 'ResKD': 'ResKDDistiller',
    'SSKD': 'SSKDDistiller', 'Trunk-to-Branch': 'TrunkBranchDistiller',
    'CrossKD': 'CrossKDDistiller',
    'LD': 'KnowledgeDistillationSingleStageDetector',
    'head-init': 'HeadInitHook',
}
#: what the probe answers, best first
STATUSES = ('trains', 'refused', 'unavailable', 'crashes')


def build_method(method: str, teacher: str, student: str) -> nn.Module:
    """The model ``method`` trains for the pair, random weights, SyncBN
    reverted (as the runner does on one process).

    Raises:
        ImportError: A config cannot be loaded here.
        ValueError: The method refuses the pair (the message says why).
    """
    init_default_scope('mmdet')
    student_cfg = offline_model(student)
    teacher_cfg = offline_model(teacher)
    if method == 'LD':
        model = build_ld(student_cfg, teacher_cfg)
    elif method == 'head-init':
        model = build_head_init(student_cfg, teacher_cfg)
    else:
        cfg = dict(type=METHODS[method], student=student_cfg)
        if method != 'Trunk-to-Branch':
            cfg['teacher_config'] = teacher_cfg
        model = MODELS.build(cfg)
        model.use_random_teacher()  # the mechanics count, not the weights
    init_checkpoint_only_weights(model)
    model.batch_needs = batch_needs(student_cfg, teacher_cfg)
    return revert_sync_batchnorm(model)


def train_once(model: nn.Module, size: int) -> None:
    """One forward and backward on :func:`train_data` (every phase of a
    phased distiller).

    Raises:
        FloatingPointError: A loss is not finite.
    """
    phases = [0, model.num_pairs] if hasattr(model, 'set_phase') else [0]
    # the runner's iteration, which batch augments read (YOLOX's resize)
    MessageHub.get_current_instance().update_info('iter', 0)
    for phase in phases:
        if hasattr(model, 'set_phase'):
            model.set_phase(phase)
        model.train()
        data = model.data_preprocessor(
            train_data(size, **model.batch_needs), True)
        loss, _ = model.parse_losses(
            model.loss(data['inputs'], data['data_samples']))
        loss.backward()
        if not torch.isfinite(loss):
            raise FloatingPointError(f'non-finite loss {float(loss)}')


def probe(method: str, teacher: str, student: str,
          size: int = 160) -> Dict[str, str]:
    """Builds ``method`` for the pair and trains it one step.

    Args:
        method: A key of :data:`METHODS`.
        teacher: The teacher's config (file, ``mmdet::`` or zoo path).
        student: The student's config.
        size: The side of the random images.

    Returns:
        dict: ``status`` (one of :data:`STATUSES`), ``message`` (the
        refusal, the import error or the exception line; '' for
        ``trains``) and ``traceback`` (for ``crashes``).
    """
    stage = 'build'
    torch.manual_seed(0)  # the same random weights on every run
    try:
        model = build_method(method, teacher, student)
        stage = 'train'
        train_once(model, size)
    except ImportError as err:
        return dict(status='unavailable', message=str(err), traceback='')
    except Exception as err:  # noqa: BLE001 (reported as a bug)
        missing = _missing_here(err)
        if missing:
            return dict(status='unavailable', message=missing, traceback='')
        if stage == 'train' and not student_trains(teacher, student, size):
            return dict(status='unavailable', traceback='', message=(
                'the student alone fails its training step too with random '
                'weights on the random images, without any distillation, so '
                f'the probe cannot tell ({type(err).__name__}: {err})'))
        if isinstance(err, ValueError) and stage == 'build':
            return dict(status='refused', message=str(err), traceback='')
        return _crash(err)
    return dict(status='trains', message='', traceback='')


#: what mmcv and mmdet raise when an op has no kernel for this device or an
#: optional package a model needs is missing
_MISSING = (re.compile(r'(\w+): implementation for device (\w+) not found'),
            re.compile(r'(\w+) is not installed,\s*please install it by: '
                       r'(pip install [\w-]+)'))


def _missing_here(err: BaseException) -> str:
    """Why ``err`` (or an error it was raised from) means that this
    environment lacks something the detector needs, or ''."""
    while err is not None:
        text = str(err)
        op = _MISSING[0].search(text)
        if op:
            return (f'mmcv\'s {op[1]} has no {op[2]} implementation in this '
                    f'build: the detector runs on a device mmcv\'s op '
                    f'supports (e.g. a GPU).')
        package = _MISSING[1].search(text)
        if package:
            return (f'the detector needs {package[1]}, which is not '
                    f'installed: {package[2]}.')
        err = err.__cause__
    return ''


def student_trains(teacher: str, student: str, size: int) -> bool:
    """Whether the plain student trains its step in :func:`train_once`
    (random weights make some detectors fail on their own: SSD's VGG
    overflows, DDQ's matching meets NaN costs, QueryInst's RoIs turn
    negative)."""
    init_default_scope('mmdet')
    torch.manual_seed(0)
    try:
        model = revert_sync_batchnorm(init_checkpoint_only_weights(
            MODELS.build(offline_model(student))))
        model.batch_needs = batch_needs(offline_model(student),
                                        offline_model(teacher))
        train_once(model, size)
    except Exception:  # noqa: BLE001 (any failure of the student alone)
        return False
    return True


def _crash(err: Exception) -> Dict[str, str]:
    return dict(status='crashes', message=f'{type(err).__name__}: {err}',
                traceback=traceback.format_exc())


def try_method(method: str, teacher: str, student: str,
               size: int = 160) -> str:
    """:func:`probe` as one string: ``'trains'``, ``'refused: <message>'``,
    ``'unavailable: <message>'`` or ``'FAILS: <exception>'`` (a bug)."""
    result = probe(method, teacher, student, size)
    label = dict(crashes='FAILS').get(result['status'], result['status'])
    return label if label == 'trains' else f"{label}: {result['message']}"




def markdown(rows: List[Dict], methods: List[str]) -> str:
    """The table: ``trains`` or ``refused`` with a numbered message below
    (a result without ``': '``, e.g. ``'not run'``, stands alone)."""
    notes: List[str] = []
    lines = ['| pair (mmdet configs) | ' + ' | '.join(methods) + ' |',
             '|---|' + '---|' * len(methods)]
    for row in rows:
        cells = []
        for method in methods:
            result = row[method]
            if result == 'trains' or ': ' not in result:
                cells.append(result)  # no message to number
                continue
            message = result.split(': ', 1)[1]
            if message not in notes:
                notes.append(message)
            label = result.split(':')[0]
            cells.append(f'{label} [{notes.index(message) + 1}]')
        lines.append(f"| {row['pair']} | " + ' | '.join(cells) + ' |')
    lines.append('')
    lines += [f'[{i + 1}] {note}' for i, note in enumerate(notes)]
    return '\n'.join(lines)
