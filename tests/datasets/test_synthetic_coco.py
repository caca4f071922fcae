"""Tests for the synthetic COCO generator and its CLI (real files only)."""
import json
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest
from pycocotools.coco import COCO

from mmera.datasets import SYNTHETIC_CLASSES, make_synthetic_coco
from mmera.datasets.synthetic_coco import generate_image

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CLI = osp.join(REPO_ROOT, 'tools', 'dataset_converters',
               'make_synthetic_coco.py')
NUM = dict(train=6, val=3)
SEED = 3
IMG_SIZE = 160


def _read(path: str) -> bytes:
    with open(path, 'rb') as f:
        return f.read()


@pytest.fixture(scope='module')
def cli_root(tmp_path_factory) -> str:
    """Generates a small dataset through the CLI, run from a foreign cwd."""
    root = tmp_path_factory.mktemp('synth')
    out = root / 'data'
    proc = subprocess.run(
        [sys.executable, CLI, '--out', 'data', '--num-train',
         str(NUM['train']), '--num-val', str(NUM['val']), '--seed',
         str(SEED), '--img-size', str(IMG_SIZE)],
        cwd=str(root), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1 and 'train 6 images' in lines[0], proc.stdout
    return str(out)


@pytest.mark.parametrize('split', ['train', 'val'])
def test_cli_output_is_valid_coco(cli_root, split):
    ann_file = osp.join(cli_root, 'annotations', f'instances_{split}.json')
    coco = COCO(ann_file)
    cats = coco.loadCats(coco.getCatIds())
    assert [(c['id'], c['name']) for c in cats] == list(
        enumerate(SYNTHETIC_CLASSES, start=1))
    info = coco.dataset['info']
    assert (info['seed'], info['split'], info['img_size']) == (SEED, split,
                                                               IMG_SIZE)
    assert 'version' in info
    imgs = coco.loadImgs(coco.getImgIds())
    assert len(imgs) == NUM[split]
    ann_ids = [a['id'] for a in coco.dataset['annotations']]
    assert len(ann_ids) == len(set(ann_ids)) > 0
    for img in imgs:
        path = osp.join(cli_root, split, img['file_name'])
        assert img['file_name'] == osp.basename(img['file_name'])
        array = cv2.imread(path)
        assert array is not None, path
        assert array.shape == (img['height'], img['width'], 3)
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[img['id']]))
        assert 1 <= len(anns) <= 8
        for ann in anns:
            x, y, w, h = ann['bbox']
            assert all(isinstance(v, float) for v in ann['bbox'])
            assert w > 0 and h > 0 and x >= 0 and y >= 0
            assert x + w <= img['width'] and y + h <= img['height']
            assert ann['iscrowd'] == 0 and ann['segmentation'] == []
            assert 1 <= ann['category_id'] <= len(SYNTHETIC_CLASSES)
            # Tight boxes: the visible shape fills a fair part of its box.
            assert 0.1 * w * h <= ann['area'] <= w * h


def test_loads_with_mmdet_coco_dataset(cli_root):
    from mmdet.datasets import CocoDataset
    from mmdet.utils import register_all_modules
    register_all_modules()
    dataset = CocoDataset(
        data_root=cli_root,
        ann_file='annotations/instances_train.json',
        data_prefix=dict(img='train/'),
        metainfo=dict(classes=SYNTHETIC_CLASSES),
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations', with_bbox=True),
            dict(type='PackDetInputs')
        ])
    assert len(dataset) == NUM['train']
    item = dataset[0]
    assert tuple(item['inputs'].shape) == (3, IMG_SIZE, IMG_SIZE)
    gt = item['data_samples'].gt_instances
    boxes = gt.bboxes.tensor if hasattr(gt.bboxes, 'tensor') else gt.bboxes
    labels = gt.labels
    assert boxes.ndim == 2 and boxes.shape[1] == 4
    assert boxes.shape[0] == labels.shape[0] >= 1
    assert int(labels.min()) >= 0 and int(labels.max()) < 5
    # Same boxes as the json (mmdet converts xywh to xyxy).
    with open(osp.join(cli_root, 'annotations',
                       'instances_train.json')) as f:
        data = json.load(f)
    first = data['images'][0]['id']
    expected = [[x, y, x + w, y + h] for a in data['annotations']
                if a['image_id'] == first for x, y, w, h in [a['bbox']]]
    np.testing.assert_allclose(boxes.numpy(), np.array(expected), atol=1e-4)


def test_deterministic_and_images_independent(cli_root, tmp_path):
    # Same arguments through the library: byte-identical to the CLI run.
    again = str(tmp_path / 'again')
    make_synthetic_coco(again, NUM['train'], NUM['val'], seed=SEED,
                        img_size=IMG_SIZE)
    for split, num in NUM.items():
        rel = osp.join('annotations', f'instances_{split}.json')
        assert _read(osp.join(cli_root, rel)) == _read(osp.join(again, rel))
        for i in range(num):
            rel = osp.join(split, f'{i:06d}.png')
            assert _read(osp.join(cli_root, rel)) == _read(
                osp.join(again, rel))
    # A smaller run is a prefix of the bigger one.
    small = str(tmp_path / 'small')
    summary = make_synthetic_coco(small, 2, 1, seed=SEED, img_size=IMG_SIZE)
    assert summary['train']['num_images'] == 2
    assert osp.isfile(summary['val']['ann_file'])
    for split, k in (('train', 2), ('val', 1)):
        rel = osp.join('annotations', f'instances_{split}.json')
        with open(osp.join(cli_root, rel)) as f:
            big = json.load(f)
        with open(osp.join(small, rel)) as f:
            part = json.load(f)
        assert part['images'] == big['images'][:k]
        keep = {img['id'] for img in part['images']}
        assert part['annotations'] == [
            a for a in big['annotations'] if a['image_id'] in keep]
        for i in range(k):
            rel = osp.join(split, f'{i:06d}.png')
            assert _read(osp.join(small, rel)) == _read(
                osp.join(cli_root, rel))
    # A different seed changes the data.
    other, _ = generate_image(SEED + 1, 'train', 0, IMG_SIZE)
    assert not np.array_equal(other, cv2.imread(
        osp.join(cli_root, 'train', '000000.png')))


def test_train_and_val_differ(cli_root):
    for i in range(NUM['val']):
        name = f'{i:06d}.png'
        assert _read(osp.join(cli_root, 'train', name)) != _read(
            osp.join(cli_root, 'val', name))
    ann = {}
    for split in NUM:
        with open(osp.join(cli_root, 'annotations',
                           f'instances_{split}.json')) as f:
            ann[split] = [(a['image_id'], a['bbox'])
                          for a in json.load(f)['annotations']]
    assert ann['train'][:5] != ann['val'][:5]


def test_variety_of_classes_and_sizes():
    cats, sides, counts = set(), [], []
    for i in range(40):
        image, objs = generate_image(0, 'train', i, 320)
        assert image.shape == (320, 320, 3) and image.dtype == np.uint8
        # Textured background: far from a flat colour.
        assert image.reshape(-1, 3).std(0).max() > 10
        counts.append(len(objs))
        for obj in objs:
            cats.add(obj['category_id'])
            sides.append(max(obj['bbox'][2:]))
    assert cats == set(range(1, len(SYNTHETIC_CLASSES) + 1))
    assert min(sides) < 16 and max(sides) > 80
    assert min(counts) >= 1 and max(counts) <= 8 and len(set(counts)) > 3


def test_test_split_has_its_own_seed_and_leaves_train_val_as_they_were(
        cli_root, tmp_path):
    """``--num-test``: a report split from another generator seed; train and
    val stay byte-identical to a run without it; no test image repeats a
    train or val image."""
    out = tmp_path / 'with_test'
    proc = subprocess.run(
        [sys.executable, CLI, '--out', str(out), '--num-train',
         str(NUM['train']), '--num-val', str(NUM['val']), '--seed',
         str(SEED), '--img-size', str(IMG_SIZE), '--num-test', '4',
         '--test-seed', '11'],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert 'test 4 images' in proc.stdout and 'test seed 11' in proc.stdout
    for split in NUM:
        rel = osp.join('annotations', f'instances_{split}.json')
        assert _read(osp.join(cli_root, rel)) == _read(str(out / rel))
    coco = COCO(str(out / 'annotations' / 'instances_test.json'))
    info = coco.dataset['info']
    assert (info['seed'], info['split']) == (11, 'test')
    assert len(coco.getImgIds()) == 4 and coco.getAnnIds()
    seen = {_read(osp.join(cli_root, split, f'{i:06d}.png'))
            for split, num in NUM.items() for i in range(num)}
    assert not seen & {_read(str(out / 'test' / f'{i:06d}.png'))
                       for i in range(4)}
    with pytest.raises(ValueError, match='test_seed must differ from seed'):
        make_synthetic_coco(str(tmp_path / 'x'), 1, 1, seed=SEED,
                            num_test=1, test_seed=SEED)
