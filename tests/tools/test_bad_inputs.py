"""Bad inputs a user can give, and the message they get (docs/bad_inputs.md).

The tools run in this process with their own command line (``runpy``): a
pre-flight error of mmera's runner (declared by the config, so mmdet's own
tools raise it too) is a ``ValueError``/``FileNotFoundError`` before the first
training step. Data problems are checked on ``CheckedCocoDataset``, the
dataset type mmera's configs declare. Model-level bad inputs (mismatched
classes, channels or FPN levels, K=0, negative weights, alpha, inference
mode) are tested in tests/models/ (see the docs table).
"""
import copy
import json
import logging
import os
import os.path as osp
import runpy
import shutil
import sys

import pytest
import torch
from cli_helpers import REPO_ROOT, TOOLS
from mmdet.evaluation import CocoMetric
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope

import mmera  # noqa: F401  (registers mmera's components)
from mmera.datasets.checked_coco_dataset import CheckedCocoDataset
from mmera.engine import AlphaSweepHook
from mmera.utils.checkpoint_fit import check_checkpoint_fits

TINY = osp.join(REPO_ROOT, 'configs', 'tiny')
ERA = 'configs/era/era_retinanet_r34w32-r18w16_fpn_500it_synthetic.py'
CLASSES = ('circle', 'square', 'triangle', 'cross', 'ring')
TEACHER_FIX = 'Set model.teacher_ckpt to the checkpoint of a detector'


@pytest.fixture(autouse=True)
def _one_thread(monkeypatch):
    """One thread: faster for these tiny models on a shared machine."""
    monkeypatch.setenv('LOCAL_RANK', '0')  # set by the tools when missing
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _run_tool(monkeypatch, tool, *args) -> str:
    """Runs tools/<tool> in this process; returns its pre-flight error."""
    monkeypatch.setattr(sys, 'argv', [tool, *args])
    monkeypatch.syspath_prepend(TOOLS)
    with pytest.raises((ValueError, FileNotFoundError)) as error:
        runpy.run_path(osp.join(TOOLS, tool), run_name='__main__')
    return str(error.value)


def _model(name):
    init_default_scope('mmdet')
    torch.manual_seed(0)
    return MODELS.build(Config.fromfile(osp.join(TINY, name)).model)


# -- checkpoints --------------------------------------------------------------
@pytest.fixture(scope='module')
def wrong_checkpoints(tmp_path_factory, teacher):
    """Files users give as a teacher checkpoint by mistake."""
    root = tmp_path_factory.mktemp('wrong_ckpts')
    notes = root / 'notes.txt'
    notes.write_text('teacher: see work_dirs/teacher_synthetic\n')
    backbone = teacher.backbone
    classifier = {f'backbone.{k}': v for k, v in backbone.state_dict().items()}
    classifier.update({'head.fc.weight': torch.zeros(1000, 256),
                       'head.fc.bias': torch.zeros(1000)})
    torch.save({'state_dict': classifier}, root / 'classifier.pth')
    student = _model('retinanet_r18w16_fpn_500it_synthetic.py').state_dict()
    torch.save({'state_dict': student}, root / 'student.pth')
    torch.save({'state_dict': {f'student.{k}': v for k, v in
                               student.items()}}, root / 'distiller.pth')
    (root / 'truncated.pth').write_bytes(
        (root / 'student.pth').read_bytes()[:5000])
    return root


@pytest.fixture(scope='module')
def teacher():
    """The tiny synthetic teacher (random weights)."""
    return _model('retinanet_r34w32_fpn_500it_synthetic.py')


@pytest.mark.parametrize('name, message', [
    ('missing.pth', 'teacher checkpoint (model.teacher_ckpt) not found'),
    ('notes.txt', 'is not a PyTorch checkpoint: it is a text file'),
    ('era.py', 'is not a PyTorch checkpoint: it is a text file'),
    ('truncated.pth', 'truncated copy or download, fetch it again'),
    ('classifier.pth', 'an image-classification checkpoint'),
    ('student.pth', 'a detector of another architecture'),
    ('distiller.pth', 'a distiller checkpoint'),
])
def test_wrong_teacher_checkpoints_are_named(wrong_checkpoints, teacher,
                                             name, message):
    path = (osp.join(REPO_ROOT, ERA) if name == 'era.py' else
            str(wrong_checkpoints / name))
    with pytest.raises((FileNotFoundError, ValueError)) as err:
        check_checkpoint_fits(
            teacher, path, 'teacher checkpoint (model.teacher_ckpt)',
            TEACHER_FIX + ' trained with the teacher config.')
    assert message in str(err.value) and repr(path) in str(err.value)
    if name not in ('missing.pth', 'notes.txt', 'era.py', 'truncated.pth'):
        assert TEACHER_FIX in str(err.value)


def test_train_stops_before_the_first_step_on_a_wrong_teacher(
        make_tiny_config, wrong_checkpoints, tmp_path, monkeypatch):
    student_ckpt = str(wrong_checkpoints / 'student.pth')
    config = make_tiny_config(
        ERA, f'model = dict(teacher_ckpt={student_ckpt!r})\n')
    error = _run_tool(monkeypatch, 'train.py', config, '--work-dir',
                      str(tmp_path / 'work'))
    assert error.startswith('teacher checkpoint (model.teacher_ckpt)')
    assert "'backbone.conv1.weight': (16, 3, 7, 7) in the checkpoint, " \
        '(32, 3, 7, 7) in the model' in error
    assert not list((tmp_path / 'work').glob('*.pth'))  # nothing trained


def test_resume_and_test_refuse_checkpoints_of_another_model(
        make_tiny_config, tiny_teacher_ckpt, tiny_student_config,
        wrong_checkpoints, tmp_path, monkeypatch):
    era_config = make_tiny_config(
        ERA, f'model = dict(teacher_ckpt={tiny_teacher_ckpt!r})\n')
    # --resume with the plain student's checkpoint: mmengine would load
    # nothing of it (non-strict) and train MBRNet, TWI and student afresh
    error = _run_tool(monkeypatch, 'train.py', era_config, '--work-dir',
                      str(tmp_path / 'work'), '--resume',
                      str(wrong_checkpoints / 'student.pth'))
    assert 'checkpoint to resume from' in error and 'does not fit' in error
    # testing a distiller checkpoint with the student config: mmengine
    # would evaluate a randomly initialised detector
    error = _run_tool(monkeypatch, 'test.py', tiny_student_config,
                      str(wrong_checkpoints / 'distiller.pth'), '--work-dir',
                      str(tmp_path / 'test'))
    assert 'a distiller checkpoint' in error
    assert 'student exported by tools/export_student.py' in error


# -- data -------------------------------------------------------------------
def _dataset(synthetic_root, ann, split='train', img_dir=None, **kwargs):
    return CheckedCocoDataset(
        ann_file=str(ann),
        data_prefix=dict(img=img_dir or osp.join(synthetic_root, split, '')),
        metainfo=dict(classes=kwargs.pop('classes', CLASSES)),
        test_mode=split == 'val',
        filter_cfg=None if split == 'val' else dict(filter_empty_gt=True),
        pipeline=[dict(type='LoadImageFromFile'),
                  dict(type='LoadAnnotations', with_bbox=True),
                  dict(type='PackDetInputs')], **kwargs)


def _annotations(synthetic_root, split):
    with open(osp.join(synthetic_root, 'annotations',
                       f'instances_{split}.json')) as f:
        return json.load(f)


def _write(tmp_path, name, data):
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def test_annotation_files_that_leave_nothing_to_train_on(synthetic_root,
                                                         tmp_path):
    coco = _annotations(synthetic_root, 'train')
    no_boxes = _write(tmp_path, 'no_boxes.json',
                      dict(coco, annotations=[]))
    with pytest.raises(ValueError, match=r'no training image of .* is left: '
                       r'12 of 12 images have no box') as err:
        _dataset(synthetic_root, no_boxes)
    assert 'holds the annotations' in str(err.value)
    # class names that are not the file's categories filter everything too
    with pytest.raises(ValueError,
                       match='0 of the 2 classes are categories of the file'):
        _dataset(synthetic_root, _write(tmp_path, 'ok.json', coco),
                 classes=('cat', 'dog'))
    no_images = _write(tmp_path, 'no_images.json',
                       dict(coco, images=[], annotations=[]))
    for split in ('train', 'val'):
        with pytest.raises(ValueError, match='lists no images'):
            _dataset(synthetic_root, no_images, split)


def test_images_without_boxes_skipped_in_training_with_a_warning(
        synthetic_root, tmp_path):
    coco = _annotations(synthetic_root, 'train')
    empty = {im['id'] for im in coco['images'][:3]}
    ann = _write(tmp_path, 'some_empty.json', dict(coco, annotations=[
        a for a in coco['annotations'] if a['image_id'] not in empty]))
    records = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        dataset = _dataset(synthetic_root, ann)
    finally:
        logger.removeHandler(handler)
    assert len(dataset) == 9
    assert {dataset.get_data_info(i)['img_id'] for i in range(9)}.isdisjoint(
        empty)
    messages = [r.getMessage() for r in records]
    assert any('3 of 12 training images' in m and 'are skipped' in m
               for m in messages), messages


def test_images_without_boxes_are_evaluated_in_validation(synthetic_root,
                                                          tmp_path):
    coco = _annotations(synthetic_root, 'val')
    empty_id = coco['images'][0]['id']
    ann = _write(tmp_path, 'val_some_empty.json', dict(coco, annotations=[
        a for a in coco['annotations'] if a['image_id'] != empty_id]))
    dataset = _dataset(synthetic_root, ann, 'val')
    assert len(dataset) == 4  # kept

    def evaluate(false_positive_on_empty):
        metric = CocoMetric(ann_file=str(ann), metric='bbox')
        metric.dataset_meta = dataset.metainfo
        for i in range(len(dataset)):
            info = dataset.get_data_info(i)
            boxes = [inst['bbox'] for inst in info['instances']]
            labels = [inst['bbox_label'] for inst in info['instances']]
            if info['img_id'] == empty_id and false_positive_on_empty:
                boxes, labels = [[10., 10., 60., 60.]], [0]
            metric.process({}, [dict(
                img_id=info['img_id'],
                ori_shape=(info['height'], info['width']),
                pred_instances=dict(
                    bboxes=torch.tensor(boxes).reshape(-1, 4),
                    scores=torch.ones(len(boxes)),
                    labels=torch.tensor(labels, dtype=torch.long)))])
        return metric.evaluate(len(dataset))['coco/bbox_mAP']

    # the ground truth as predictions is perfect; a detection on the image
    # without boxes is a false positive that costs precision
    assert evaluate(False) == pytest.approx(1.0)
    assert evaluate(True) < 1.0


def test_a_corrupt_or_missing_image_is_named(synthetic_root, tmp_path):
    images = tmp_path / 'train'
    shutil.copytree(osp.join(synthetic_root, 'train'), images)
    coco = _annotations(synthetic_root, 'train')
    ann = _write(tmp_path, 'train.json', coco)
    dataset = _dataset(synthetic_root, ann, img_dir=str(images) + '/')
    info = dataset.get_data_info(0)
    assert dataset[0]['inputs'].shape[0] == 3  # intact: loads

    path = info['img_path']
    with open(path, 'wb') as f:  # a truncated PNG: header only
        f.write(b'\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR')
    with pytest.raises(ValueError, match='cannot be decoded: the file is '
                       'corrupt, truncated or not an image') as err:
        dataset[0]
    assert repr(path) in str(err.value)
    assert 'remove the image and its annotations' in str(err.value)
    os.remove(path)
    with pytest.raises(ValueError, match='is missing'):
        dataset[0]


def test_alpha_sweep_values_outside_the_unit_interval():
    with pytest.raises(ValueError, match=r'alphas must be a non-empty list '
                       r'of values in \[0, 1\], got \[0.0, 1.5\]'):
        AlphaSweepHook(alphas=[0.0, 1.5])
    with pytest.raises(ValueError, match='non-empty'):
        AlphaSweepHook(alphas=[])


def test_k_zero_through_the_distiller_config(tiny_teacher_ckpt):
    init_default_scope('mmdet')
    cfg = copy.deepcopy(Config.fromfile(osp.join(REPO_ROOT, ERA)).model)
    cfg.teacher_ckpt = tiny_teacher_ckpt
    cfg.mbrnet.num_branches = 0
    with pytest.raises(ValueError, match='num_branches must be >= 1'):
        MODELS.build(cfg)
