"""Tests for tools/dataset_converters/prepare_deepforest.py on the real data.

The prep downloads ``deepforest==2.1.0`` from PyPI once per session unless
``MMERA_DEEPFOREST_WHEEL`` points to a local copy of that wheel.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / 'tools' / 'dataset_converters' / 'prepare_deepforest.py'
SPLITS = ('train', 'val', 'test')


def _load_script():
    spec = importlib.util.spec_from_file_location('prepare_deepforest', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


prep = _load_script()


def _run(out: Path, wheel: Path | None,
         cwd: Path) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(SCRIPT), '--out', str(out)]
    if wheel is not None:
        cmd += ['--wheel', str(wheel)]
    # cwd outside the repo: the script must not depend on where it is run.
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)


@pytest.fixture(scope='module')
def prepared(tmp_path_factory) -> Path:
    env_wheel = os.environ.get('MMERA_DEEPFOREST_WHEEL')
    wheel = Path(env_wheel) if env_wheel else None
    if wheel is not None:
        assert wheel.is_file(), f'MMERA_DEEPFOREST_WHEEL={env_wheel} missing'
    out = tmp_path_factory.mktemp('deepforest')
    proc = _run(out, wheel, cwd=tmp_path_factory.mktemp('cwd'))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert 'Alive/Dead -> Tree' in proc.stdout
    return out


@pytest.fixture(scope='module')
def wheel_path(prepared) -> Path:
    env_wheel = os.environ.get('MMERA_DEEPFOREST_WHEEL')
    return Path(env_wheel) if env_wheel else (
        prepared / '_download' / prep.WHEEL_NAME)


def _coco(root: Path, split: str) -> dict:
    return json.loads(
        (root / 'annotations' / f'instances_{split}.json').read_text())


def test_layout_and_boxes_inside_images(prepared):
    from pycocotools.coco import COCO
    for split in SPLITS:
        ann_file = prepared / 'annotations' / f'instances_{split}.json'
        coco = COCO(str(ann_file))
        assert coco.loadCats(coco.getCatIds()) == [{'id': 1, 'name': 'Tree'}]
        pngs = sorted(p.name for p in (prepared / split).glob('*.png'))
        assert pngs == sorted(i['file_name'] for i in coco.dataset['images'])
        for img in coco.dataset['images']:
            with Image.open(prepared / split / img['file_name']) as im:
                assert im.size == (img['width'], img['height']) == (400, 400)
                assert im.mode == 'RGB'
        ann_ids = [a['id'] for a in coco.dataset['annotations']]
        assert len(set(ann_ids)) == len(ann_ids)
        for ann in coco.dataset['annotations']:
            img = coco.imgs[ann['image_id']]
            x, y, w, h = ann['bbox']
            assert w > 0 and h > 0, ann
            assert x >= 0 and y >= 0, ann
            assert x + w <= img['width'] and y + h <= img['height'], ann
            assert ann['area'] == pytest.approx(w * h)
            assert ann['category_id'] == 1 and ann['iscrowd'] == 0


def test_split_counts(prepared):
    stats = {s: _coco(prepared, s) for s in SPLITS}
    n_img = {s: len(c['images']) for s, c in stats.items()}
    n_box = {s: len(c['annotations']) for s, c in stats.items()}
    # 2299x2472 -> 6x7 tiles, 1249x1035 -> 4x3 tiles (edge-aligned last tile).
    assert n_img == {'train': 42, 'val': 12, 'test': 2}
    assert 500 <= n_box['train'] <= 800
    assert 250 <= n_box['val'] <= 450
    assert n_box['test'] == 98
    # Each source box survives in at least one tile (clipping loses few).
    val_src = {a['source_index'] for a in stats['val']['annotations']}
    train_src = {a['source_index'] for a in stats['train']['annotations']}
    assert len(val_src) == 279 and len(train_src) >= 560
    sources = {s: {i['source_file'] for i in c['images']}
               for s, c in stats.items()}
    assert sources == {'train': {f'{prep.TRAIN_STEM}.png'},
                       'val': {f'{prep.VAL_STEM}.png'},
                       'test': {'OSBS_029.png', 'SOAP_061.png'}}
    prov = json.loads(
        (prepared / 'annotations' / 'provenance.json').read_text())
    for split in SPLITS:
        assert prov['splits'][split]['images'] == n_img[split]
        assert prov['splits'][split]['boxes'] == n_box[split]
    assert prov['source_files'] == {
        prep.DATA_PREFIX + k: v for k, v in prep.SOURCE_SHA256.items()}
    assert prov['wheel']['sha256'] == prov['wheel']['expected_sha256']


def test_soap_alive_dead_mapped_to_tree(prepared):
    coco = _coco(prepared, 'test')
    ids = {i['file_name']: i['id'] for i in coco['images']}
    labels = {name: {} for name in ids}
    for ann in coco['annotations']:
        name = next(n for n, i in ids.items() if i == ann['image_id'])
        labels[name][ann['source_label']] = (
            labels[name].get(ann['source_label'], 0) + 1)
        assert ann['category_id'] == 1
    assert labels == {'OSBS_029.png': {'Tree': 61},
                      'SOAP_061.png': {'Alive': 9, 'Dead': 28}}


@pytest.mark.parametrize('split', SPLITS)
def test_mmdet_coco_dataset_loads(prepared, split):
    from mmdet.datasets import CocoDataset
    from mmdet.utils import register_all_modules
    register_all_modules()
    dataset = CocoDataset(
        data_root=str(prepared),
        ann_file=f'annotations/instances_{split}.json',
        data_prefix=dict(img=f'{split}/'),
        metainfo=dict(classes=('Tree', )),
        pipeline=[dict(type='LoadImageFromFile'),
                  dict(type='LoadAnnotations', with_bbox=True),
                  dict(type='PackDetInputs')])
    assert len(dataset) == len(_coco(prepared, split)['images'])
    index = next(i for i in range(len(dataset))
                 if len(dataset.get_data_info(i)['instances']) > 0)
    item = dataset[index]
    assert tuple(item['inputs'].shape) == (3, 400, 400)
    n = len(dataset.get_data_info(index)['instances'])
    assert item['data_samples'].gt_instances.bboxes.shape == (n, 4)
    assert set(item['data_samples'].gt_instances.labels.tolist()) == {0}


def test_rerun_is_deterministic(prepared, wheel_path, tmp_path):
    def digests() -> dict:
        return {str(p.relative_to(prepared)): hashlib.sha256(
            p.read_bytes()).hexdigest() for p in sorted(prepared.rglob('*'))
            if p.is_file() and '_download' not in p.parts}

    before = digests()
    proc = _run(prepared, wheel_path, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert digests() == before


def test_checksum_mismatch_is_reported(wheel_path, tmp_path):
    target = prep.DATA_PREFIX + 'OSBS_029.xml'
    doctored = tmp_path / prep.WHEEL_NAME
    with zipfile.ZipFile(wheel_path) as src, \
            zipfile.ZipFile(doctored, 'w', zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == target:
                # Change one digit of the first xmin: still valid XML.
                pos = data.index(b'<xmin>') + len(b'<xmin>')
                data = (data[:pos] + (b'1' if data[pos:pos + 1] != b'1'
                                      else b'2') + data[pos + 1:])
                bad_digest = hashlib.sha256(data).hexdigest()
            dst.writestr(info.filename, data)
    out = tmp_path / 'out'
    proc = _run(out, doctored, cwd=tmp_path)
    assert proc.returncode != 0
    assert 'checksum mismatch' in proc.stderr
    assert 'OSBS_029.xml' in proc.stderr
    assert prep.SOURCE_SHA256['OSBS_029.xml'] in proc.stderr
    assert bad_digest in proc.stderr
    # Verification happens before any output is written.
    assert not (out / 'annotations').exists()
