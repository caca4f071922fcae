"""What the offline COCO-config tests share: random weights instead of
downloads, a two-image 160 px batch, teacher checkpoints they write, config
values compared without mmengine's ``_scope_`` keys, and the checkpoint URLs
mmdet's metafiles give."""
import copy
import os.path as osp

import mmdet
import numpy as np
import torch
import yaml
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmdet.structures.mask import BitmapMasks
from mmengine.hub import get_config
from mmengine.structures import InstanceData

MMDET_CONFIGS = osp.join(osp.dirname(mmdet.__file__), '.mim', 'configs')
SIZE = 160
BOXES = ([10.0, 20.0, 90.0, 110.0], [60.0, 40.0, 150.0, 140.0])


def offline(model_cfg):
    """Random weights (no ImageNet download for the backbone); random heads
    score low, so every detection is kept for comparisons."""
    model_cfg = copy.deepcopy(model_cfg)
    model_cfg.backbone.init_cfg = None
    test_cfg = model_cfg.test_cfg
    if 'rcnn' in test_cfg:  # two-stage: the RoI head's post-processing
        test_cfg.rcnn.score_thr = 0.0
    else:
        test_cfg.update(score_thr=0.0, max_per_img=50)
    return model_cfg


def coco_batch(seed=0, with_masks=False):
    """Two random uint8 images with two ground-truth boxes each (and their
    box-filled masks), as a dataloader gives them."""
    gen = torch.Generator().manual_seed(seed)
    inputs, samples = [], []
    for i in range(2):
        inputs.append(torch.randint(0, 256, (3, SIZE, SIZE), generator=gen,
                                    dtype=torch.uint8))
        sample = DetDataSample(metainfo=dict(
            img_shape=(SIZE, SIZE), ori_shape=(SIZE, SIZE),
            scale_factor=(1.0, 1.0), img_id=i))
        boxes = [list(BOXES[0]), [BOXES[1][0] + i, *BOXES[1][1:]]]
        gt = InstanceData()
        gt.bboxes = torch.tensor(boxes)
        gt.labels = torch.tensor([0, 7 + i])
        if with_masks:
            # mmdet's mask head crops and resizes each RoI's mask
            # (BitmapMasks.crop_and_resize): the box-filled masks
            masks = np.zeros((len(boxes), SIZE, SIZE), dtype=np.uint8)
            for k, (x1, y1, x2, y2) in enumerate(boxes):
                masks[k, int(y1):int(y2), int(x1):int(x2)] = 1
            gt.masks = BitmapMasks(masks, SIZE, SIZE)
        sample.gt_instances = gt
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def teacher_ckpt_writer(tmp_path_factory):
    """``get(teacher)``: a random-weight checkpoint (mmdet's init) of a
    teacher config path (``'mmdet::...'``) or model config, written once."""
    made = {}

    def get(teacher):
        model_cfg = offline(get_config(teacher).model) if isinstance(
            teacher, str) else teacher
        key = repr(model_cfg.to_dict())
        if key not in made:
            torch.manual_seed(0)
            model = MODELS.build(model_cfg)
            model.init_weights()  # as trained weights: mmdet's init
            path = tmp_path_factory.mktemp('teacher') / 'teacher.pth'
            torch.save(dict(state_dict=model.state_dict()), str(path))
            made[key] = str(path)
        return made[key]

    return get


def without_scope(obj):
    """A config value without the ``_scope_`` keys mmengine adds to
    variables read from a scoped (``mmdet::``) base."""
    if hasattr(obj, 'to_dict'):
        obj = obj.to_dict()
    if isinstance(obj, dict):
        return {k: without_scope(v) for k, v in obj.items()
                if k != '_scope_'}
    if isinstance(obj, (list, tuple)):
        return type(obj)(without_scope(v) for v in obj)
    return obj


def zoo_weights(config: str) -> list:
    """The checkpoint URLs that mmdet's metafile (of the config's own
    directory) gives for an mmdet config, e.g.
    ``'gfl/gfl_r50_fpn_1x_coco.py'``; empty when it publishes none."""
    family = config.split('/')[0]
    with open(osp.join(MMDET_CONFIGS, family, 'metafile.yml')) as f:
        models = yaml.safe_load(f)['Models']
    return [m['Weights'] for m in models
            if m['Config'] == f'configs/{config}' and 'Weights' in m]
