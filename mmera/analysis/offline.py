"""Detector configs loaded offline, and random training data for them.

* :func:`offline_model`: a config's ``model`` dict (a file, an ``mmdet::``
  path or a path in mmdet's zoo) with every ``Pretrained`` init stripped,
  so that building it downloads nothing;
* :func:`init_checkpoint_only_weights`: initialises what mmdet allocates
  empty for that stripped checkpoint to fill;
* :func:`train_data`: two random images with boxes (and masks or a
  semantic map where the detectors need them: :func:`batch_needs`), as the
  data loader yields them.
"""
import os.path as osp
import re
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn
from mmdet.models.backbones.trident_resnet import TridentConv
from mmdet.models.necks.ssd_neck import L2Norm
from mmdet.structures import DetDataSample
from mmdet.structures.mask import BitmapMasks
from mmengine.config import ConfigDict
from mmengine.model import constant_init, kaiming_init
from mmengine.structures import InstanceData, PixelData
from mmengine.utils import get_installed_path

from mmera.models import load_model_config


def resolve_config(config: str) -> str:
    """A config file or ``mmdet::`` path as it is; any other string is a
    path in mmdet's zoo (``'retinanet/retinanet_r50_fpn_1x_coco.py'``).

    mmengine's ``mmdet::`` form takes only word characters, dots, dashes
    and slashes, so a zoo path with others (``gn+ws/...``) resolves to the
    installed file instead.
    """
    if config.startswith('mmdet::') or osp.isfile(config):
        return config
    if re.fullmatch(r'[\w./-]+', config):
        return 'mmdet::' + config
    return osp.join(get_installed_path('mmdet'), '.mim', 'configs', config)


def strip_pretrained(cfg):
    """Removes every ``Pretrained`` init (and ``pretrained=``) of a config
    in place, at any depth, and returns it."""
    if isinstance(cfg, list):
        for item in cfg:
            strip_pretrained(item)
    if not isinstance(cfg, dict):
        return cfg
    for key in list(cfg):
        value = cfg[key]
        if key == 'pretrained' and isinstance(value, str):
            cfg[key] = None
        elif key == 'init_cfg' and isinstance(value, dict) and \
                value.get('type') == 'Pretrained':
            cfg[key] = None
        elif key == 'init_cfg' and isinstance(value, list):
            cfg[key] = [v for v in value if v.get('type') != 'Pretrained']
        else:
            strip_pretrained(value)
    return cfg


def offline_model(config: str) -> ConfigDict:
    """The ``model`` dict of a config, ``Pretrained`` inits stripped.

    Raises:
        ImportError: The config's ``custom_imports`` cannot be imported here
            (e.g. mmpretrain backbones, which need torchvision).
    """
    return strip_pretrained(load_model_config(resolve_config(config)))


def teacher_of(model: nn.Module) -> Optional[nn.Module]:
    """The frozen teacher a method keeps outside its module tree (mmera's
    ``teacher``, mmdet's LD ``teacher_model``), or None."""
    return getattr(model, 'teacher', None) or getattr(
        model, 'teacher_model', None)


def init_checkpoint_only_weights(model: nn.Module) -> nn.Module:
    """Initialises, in ``model`` and the teacher it keeps, the parameters
    that mmdet allocates empty (``torch.Tensor(...)``) and leaves to a
    pretrained checkpoint or to ``init_weights``; returns ``model``.

    Built from :func:`offline_model` and used without ``init_weights`` (the
    pair probe, random teachers), they would hold whatever the memory last
    held, NaN included, so a probe could report a crash that is not one:

    * TridentNet's ``TridentConv``: the Kaiming init (fan_out, relu, normal)
      of the ResNet convolutions it stands in for;
    * SSD's ``L2Norm``: its scale, as ``SSDNeck``'s ``init_cfg`` sets it.
    """
    for part in (model, teacher_of(model)):
        for m in part.modules() if part is not None else ():
            if isinstance(m, TridentConv):
                kaiming_init(m)
            elif isinstance(m, L2Norm):
                constant_init(m, m.scale)
    return model


def _has(cfg, words: Tuple[str, ...]) -> bool:
    """Whether a key or head type of ``cfg`` (at any depth) names one of
    ``words``."""
    if isinstance(cfg, (list, tuple)):
        return any(_has(c, words) for c in cfg)
    if not isinstance(cfg, dict):
        return False
    return any(k in words or (k == 'type' and isinstance(v, str) and any(
        w in v for w in words)) or _has(v, words) for k, v in cfg.items())


def _num_classes(cfg) -> List[int]:
    """Every ``num_classes`` of ``cfg``, at any depth."""
    if isinstance(cfg, (list, tuple)):
        return [n for c in cfg for n in _num_classes(c)]
    if not isinstance(cfg, dict):
        return []
    own = cfg.get('num_classes')  # (an RPN's 1 class says nothing)
    return ([own] if isinstance(own, int) else []) + _num_classes(
        [v for k, v in cfg.items() if k != 'rpn_head'])


def batch_needs(*models: ConfigDict) -> Dict:
    """What the random batch must hold for these detectors: labels below
    the fewest classes they have, instance masks (a mask head) and a
    semantic map (a semantic or panoptic head)."""
    return dict(
        num_classes=min(_num_classes(list(models)) or [80]),
        with_masks=any(_has(m, ('mask_head', 'InsSepBN', 'panoptic_head'))
                       for m in models),
        with_semantic=any(_has(m, ('semantic_head', 'panoptic_head',
                                   'semantic_fusion')) for m in models))


def train_data(size: int = 160, num_classes: int = 80,
               with_masks: bool = False, with_semantic: bool = False) -> dict:
    """Two random ``size`` px images as the data loader yields them, with
    two boxes each scaled to the image (their box-filling masks and an
    all-background semantic map where asked)."""
    torch.manual_seed(0)
    inputs, samples = [], []
    for i in range(2):
        sample = DetDataSample(metainfo=dict(
            img_shape=(size, size), ori_shape=(size, size),
            scale_factor=(1.0, 1.0), flip=False, flip_direction=None))
        boxes = torch.tensor([[10.0, 20.0, 90.0, 110.0],
                              [60.0, 40.0 + i, 150.0, 140.0]]) * size / 160
        sample.gt_instances = InstanceData(
            bboxes=boxes, labels=torch.tensor([0, (7 + i) % num_classes]))
        sample.ignored_instances = InstanceData(
            bboxes=torch.zeros(0, 4), labels=torch.zeros(0).long())
        if with_masks:
            masks = torch.zeros(2, size, size, dtype=torch.uint8)
            for m, box in zip(masks, boxes.int()):
                m[box[1]:box[3], box[0]:box[2]] = 1
            sample.gt_instances.masks = BitmapMasks(masks.numpy(), size, size)
        if with_semantic:
            sample.gt_sem_seg = PixelData(
                sem_seg=torch.zeros(1, size, size, dtype=torch.long))
        samples.append(sample)
        inputs.append(torch.rand(3, size, size) * 255)
    return dict(inputs=inputs, data_samples=samples)
