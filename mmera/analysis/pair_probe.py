"""Which distiller trains on which teacher -> student pair, offline.

For a pair of detector configs and an mmera distiller, :func:`try_method`
builds the distiller with random weights (nothing downloads) and trains one
step on two random images; the answer is ``'trains'`` or the message the
distiller refuses the pair with. :data:`PAIRS` are mmdet's own COCO pairs;
:func:`support_table` and :func:`markdown` make the table of them.
"""
import time
from typing import Dict, List, Tuple

import numpy as np
import torch
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmdet.structures.mask import BitmapMasks
from mmera.models import load_model_config

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
#: column -> distiller type (Trunk-to-Branch is teacher-free)
METHODS: Dict[str, str] = {
    'ERA': 'ERADistiller', 'FitNet': 'FitNetDistiller',
    'PKD': 'PKDDistiller', 'RKD': 'RKDDistiller', 'ResKD': 'ResKDDistiller',
    'SSKD': 'SSKDDistiller', 'Trunk-to-Branch': 'TrunkBranchDistiller',
}


def _offline(config: str):
    # load_model_config: a config whose custom_imports cannot be imported
    # here (mmpretrain needs torchvision) raises an ImportError that says so
    model = load_model_config('mmdet::' + config)
    model.backbone.init_cfg = None
    return model


def _batch(size: int = 160, with_masks: bool = False):
    """Two random images with two boxes each (and their box-filling masks,
    for a student with a mask head)."""
    torch.manual_seed(0)
    samples = []
    for i in range(2):
        sample = DetDataSample(metainfo=dict(
            img_shape=(size, size), ori_shape=(size, size),
            pad_shape=(size, size), batch_input_shape=(size, size),
            scale_factor=(1.0, 1.0)))
        sample.gt_instances = InstanceData(
            bboxes=torch.tensor([[10.0, 20.0, 90.0, 110.0],
                                 [60.0, 40.0 + i, 150.0, 140.0]]),
            labels=torch.tensor([0, 7 + i]))
        if with_masks:
            masks = np.zeros((2, size, size), dtype=np.uint8)
            for m, box in zip(masks, sample.gt_instances.bboxes.int()):
                m[box[1]:box[3], box[0]:box[2]] = 1
            sample.gt_instances.masks = BitmapMasks(masks, size, size)
        samples.append(sample)
    return torch.randn(2, 3, size, size), samples


def try_method(method: str, teacher: str, student: str) -> str:
    """``'trains'``, ``'refused: <message>'``, ``'unavailable: <message>'``
    (a config that cannot be loaded in this environment) or ``'FAILS:
    ...'`` (an error that is not a refusal: a bug)."""
    init_default_scope('mmdet')
    try:
        cfg = dict(type=METHODS[method], student=_offline(student))
        if method != 'Trunk-to-Branch':
            cfg['teacher_config'] = _offline(teacher)
    except ImportError as err:
        return f'unavailable: {err}'
    try:
        model = MODELS.build(cfg)
    except ValueError as err:
        return f'refused: {err}'
    except Exception as err:  # noqa: BLE001 (reported as a bug)
        return f'FAILS: {type(err).__name__}: {err}'
    model.teacher_loaded = True  # random weights: only the mechanics count
    if hasattr(model, 'sync_twi'):
        model.sync_twi()
    try:
        phases = [0, model.num_pairs] if hasattr(model, 'set_phase') else [0]
        for phase in phases:
            if hasattr(model, 'set_phase'):
                model.set_phase(phase)
            model.train()
            loss, _ = model.parse_losses(model.loss(*_batch(
                with_masks=bool(cfg['student'].get('roi_head', {}).get(
                    'mask_head')))))
            loss.backward()
            if not torch.isfinite(loss):
                return f'FAILS: non-finite loss {float(loss)}'
    except Exception as err:  # noqa: BLE001 (reported as a bug)
        return f'FAILS: {type(err).__name__}: {err}'
    return 'trains'


def support_table(pairs: List[str], methods: List[str]) -> List[Dict]:
    """One row per pair: ``pair`` and each method's result, and seconds."""
    rows = []
    for pair in pairs:
        teacher, student = PAIRS[pair]
        row = dict(pair=pair)
        for method in methods:
            start = time.perf_counter()
            row[method] = try_method(method, teacher, student)
            row[method + ' s'] = time.perf_counter() - start
        rows.append(row)
    return rows


def markdown(rows: List[Dict], methods: List[str]) -> str:
    """The table: ``trains`` or ``refused`` with a numbered message below."""
    notes: List[str] = []
    lines = ['| pair (mmdet configs) | ' + ' | '.join(methods) + ' |',
             '|---|' + '---|' * len(methods)]
    for row in rows:
        cells = []
        for method in methods:
            result = row[method]
            if result == 'trains':
                cells.append('trains')
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
