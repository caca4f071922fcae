"""Model-test fixtures: quiet mmengine logs, the tiny RetinaNet pair, a batch.

Everything here is real mmdet: the tiny student (ResNet-18 at 1/4 width) and
teacher (ResNet-34 at 1/2 width) of ``configs/tiny``, both with a 64-channel
FPN and identical RetinaHeads, 5 classes.
"""
import copy
import logging
import os.path as osp

import pytest
import torch
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmdet.utils import register_all_modules
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.structures import InstanceData

import mmera  # noqa: F401  (registers mmera's models)

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY = osp.join(REPO_ROOT, 'configs', 'tiny')
IMG = 128  # divisible by the coarsest stride (128): clean FPN shapes


@pytest.fixture(scope='module', autouse=True)
def _quiet_single_threaded():
    """Silences the per-parameter init logs and runs the tiny models on one
    thread (faster than 2 for these sizes, and robust on a busy machine);
    restores both afterwards."""
    register_all_modules()
    logger = MMLogger.get_current_instance()
    level, threads = logger.level, torch.get_num_threads()
    logger.setLevel(logging.ERROR)
    torch.set_num_threads(1)
    yield
    logger.setLevel(level)
    torch.set_num_threads(threads)


def _load(name):
    model = Config.fromfile(osp.join(TINY, name)).model
    # untrained heads score ~0.01 (the focal-loss prior): keep detections
    model.test_cfg.score_thr = 0.0
    model.test_cfg.nms_pre = 100
    model.test_cfg.max_per_img = 20
    return model


@pytest.fixture(scope='session')
def _tiny_cfgs():
    return (_load('retinanet_r18w16_fpn_500it_synthetic.py'),
            _load('retinanet_r34w32_fpn_500it_synthetic.py'))


@pytest.fixture
def student_cfg(_tiny_cfgs):
    """The tiny student's model dict (a fresh copy per test)."""
    return copy.deepcopy(_tiny_cfgs[0])


@pytest.fixture
def teacher_cfg(_tiny_cfgs):
    """The tiny teacher's model dict (a fresh copy per test)."""
    return copy.deepcopy(_tiny_cfgs[1])


@pytest.fixture(scope='session')
def teacher_ckpt(_tiny_cfgs, tmp_path_factory):
    """A (randomly initialised) teacher checkpoint, saved as mmengine does."""
    torch.manual_seed(1234)
    teacher = MODELS.build(copy.deepcopy(_tiny_cfgs[1]))
    teacher.init_weights()
    path = tmp_path_factory.mktemp('teacher') / 'teacher.pth'
    torch.save({'state_dict': teacher.state_dict()}, str(path))
    return str(path)


def _make_batch(num_images=2, size=IMG, seed=0):
    """Random preprocessed inputs and data samples with ground truth."""
    gen = torch.Generator().manual_seed(seed)
    inputs = torch.randn(num_images, 3, size, size, generator=gen)
    samples = []
    boxes = [[[10., 20., 60., 90.], [50., 40., 120., 110.]],
             [[5., 5., 40., 30.], [30., 60., 100., 124.],
              [70., 10., 126., 50.]]]
    labels = [[1, 3], [0, 4, 2]]
    for i in range(num_images):
        sample = DetDataSample(
            metainfo=dict(
                img_shape=(size, size),
                ori_shape=(size, size),
                pad_shape=(size, size),
                batch_input_shape=(size, size),
                scale_factor=(1., 1.)))
        gt = InstanceData()
        gt.bboxes = torch.tensor(boxes[i % 2])
        gt.labels = torch.tensor(labels[i % 2])
        sample.gt_instances = gt
        samples.append(sample)
    return inputs, samples


@pytest.fixture
def make_batch():
    """``make_batch(num_images=2, size=128, seed=0) -> (inputs, samples)``."""
    return _make_batch


@pytest.fixture
def batch():
    return _make_batch()
