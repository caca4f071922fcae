#!/usr/bin/env python
"""Build a small, real tree-crown detection set (COCO format) from DeepForest.

The ``deepforest==2.1.0`` wheel on PyPI (MIT license) ships hand-annotated
aerial RGB images (NEON, 10 cm/px) with Pascal-VOC XML boxes under
``deepforest/data/``. The wheel is read as a plain zip: deepforest itself is
never imported (its dependencies are heavy and not needed).

Splits:
    * ``train``: ``2019_YELL_2_528000_4978000_image_crop2`` (2299x2472,
      574 boxes) cut into ``--tile`` x ``--tile`` tiles.
    * ``val``: ``2019_YELL_2_541000_4977000_image_crop`` (1249x1035,
      279 boxes), tiled the same way. Same site as train, so val measures
      learning rather than site transfer.
    * ``test``: ``OSBS_029`` and ``SOAP_061`` (whole 400x400 images from two
      other sites): an out-of-domain test split, 98 boxes.

Tiling: the stride equals the tile size; on each axis the last tile is
aligned to the image edge (it overlaps its neighbour) so every tile is exactly
``tile`` x ``tile`` and no pixel is lost. Boxes are clipped to each tile; a box
whose visible part is below ``--min-visible`` of its own area, or whose clipped
width/height is below one pixel, is dropped. Boxes in overlap strips may
therefore appear in two tiles (together with the pixels they cover).
Tiles without boxes are KEPT: the tiling stays a complete cover of each image,
val/test then also score false positives on background, and mmdet's
``filter_cfg=dict(filter_empty_gt=True)`` drops them from training anyway.

Labels: a single class ``Tree``. SOAP_061 is labelled ``Alive``/``Dead``;
both map to ``Tree`` (a dead tree is still a tree crown). The original VOC
label is kept per annotation as ``"source_label"``.

Source files are checked against SHA-256 digests recorded below before any
output is written. Output is deterministic (same bytes on every run); stale
PNGs in split folders are removed. Provenance: ``annotations/provenance.json``.

Example:
    python tools/dataset_converters/prepare_deepforest.py --out data/deepforest
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
import zipfile
from collections import Counter
from pathlib import Path

from PIL import Image

WHEEL_SPEC = 'deepforest==2.1.0'
WHEEL_NAME = 'deepforest-2.1.0-py3-none-any.whl'
WHEEL_SHA256 = (
    '8c2798d8e9be7f0004b194fe207b76c1d9fff6e711b3db67b9508dcd5d00ae54')
DATA_PREFIX = 'deepforest/data/'
TRAIN_STEM = '2019_YELL_2_528000_4978000_image_crop2'
VAL_STEM = '2019_YELL_2_541000_4977000_image_crop'
TEST_STEMS = ('OSBS_029', 'SOAP_061')
SPLIT_STEMS = {'train': (TRAIN_STEM, ), 'val': (VAL_STEM, ),
               'test': TEST_STEMS}
# Digests of the files inside the wheel (computed from the PyPI wheel above).
SOURCE_SHA256 = {
    f'{TRAIN_STEM}.png':
        'a9bdb0f4447fdd899d22f567e0e20ba8320c5413b2ad0cd0ac8d9f3b6e0f9767',
    f'{TRAIN_STEM}.xml':
        'bd431af6a5086d721eb731b22f5ea28cd8a8eab06883efc1c665391acbc68e11',
    f'{VAL_STEM}.png':
        '178e58a23cc2642226a364a30f71bd9258ddc1b012c826f12250914a90c7a131',
    f'{VAL_STEM}.xml':
        'cefe4b96888bacbf8af1674f000082e549aa707aa6590d545effb23e43f26631',
    'OSBS_029.png':
        'd9477c6a00e4902c7bee487d4c5582c3b8b9a2f77f3908a29628b816b291e6ee',
    'OSBS_029.xml':
        '1f68c4011d7b351c29ca755072e77f3d16e6fd1f995bd05a9dd4eb952b55373c',
    'SOAP_061.png':
        '256508f1a62149bec4a80879077a865caf50e8cace095e6564c76befa480d424',
    'SOAP_061.xml':
        '4833280af75fd9c47965a93e38945282835e9e725cac412bdb9469d63480947c',
}
LABEL_MAP = {'Tree': 'Tree', 'Alive': 'Tree', 'Dead': 'Tree'}
CATEGORIES = [{'id': 1, 'name': 'Tree'}]
EDGE_POLICY = ('stride = tile; last tile per axis aligned to the image edge '
               '(overlapping), all tiles tile x tile, no pixels lost')

# x1, y1, x2, y2, source label, index of the box in its source XML
Box = tuple[float, float, float, float, str, int]


class ChecksumError(RuntimeError):
    """A source file in the wheel does not match its recorded SHA-256."""


def sha256(data: bytes) -> str:
    """Return the hex SHA-256 digest of ``data``."""
    return hashlib.sha256(data).hexdigest()


def fetch_wheel(out: Path) -> Path:
    """Download the pinned wheel into ``out/_download`` (reused if there)."""
    dest = out / '_download'
    wheel = dest / WHEEL_NAME
    if not wheel.is_file():
        dest.mkdir(parents=True, exist_ok=True)
        # --only-binary: we need the wheel, never an sdist build.
        cmd = [sys.executable, '-m', 'pip', 'download', '--no-deps',
               '--only-binary=:all:', '--disable-pip-version-check',
               WHEEL_SPEC, '-d', str(dest)]
        subprocess.run(cmd, check=True)
    if not wheel.is_file():
        raise FileNotFoundError(f'pip did not produce {wheel}')
    return wheel


def read_sources(wheel: Path) -> dict[str, bytes]:
    """Read and verify all source files from the wheel before writing output.

    Raises:
        ChecksumError: If a file's digest differs from ``SOURCE_SHA256``.
    """
    files = {}
    with zipfile.ZipFile(wheel) as zf:
        for name, expected in SOURCE_SHA256.items():
            data = zf.read(DATA_PREFIX + name)
            actual = sha256(data)
            if actual != expected:
                raise ChecksumError(
                    f'checksum mismatch for {DATA_PREFIX}{name} in {wheel}: '
                    f'expected sha256 {expected}, got {actual}')
            files[name] = data
    return files


def parse_voc(xml_bytes: bytes) -> list[Box]:
    """Parse VOC boxes as given (pixel coordinates, no +1/-1 shifts).

    Convention: COCO bbox = [xmin, ymin, xmax - xmin, ymax - ymin], i.e. xmax
    and ymax are treated as exclusive edges, so width = xmax - xmin.
    """
    root = ET.fromstring(xml_bytes)
    boxes = []
    for obj in root.iter('object'):
        label, bb = obj.find('name').text.strip(), obj.find('bndbox')
        if label not in LABEL_MAP:  # never map an unknown class silently
            raise ValueError(f'unexpected VOC label {label!r}')
        x1, y1, x2, y2 = (float(bb.find(k).text)
                          for k in ('xmin', 'ymin', 'xmax', 'ymax'))
        boxes.append((x1, y1, x2, y2, label, len(boxes)))
    return boxes


def tile_offsets(length: int, tile: int) -> list[int]:
    """Tile origins along one axis: stride ``tile``, last one edge-aligned."""
    offsets = list(range(0, length - tile + 1, tile))
    if offsets[-1] + tile < length:
        offsets.append(length - tile)
    return offsets


def clip_boxes(boxes: list[Box], x0: int, y0: int, width: int, height: int,
               min_visible: float) -> list[Box]:
    """Clip boxes to a window and shift them into window coordinates."""
    kept = []
    for x1, y1, x2, y2, label, index in boxes:
        area = (x2 - x1) * (y2 - y1)
        cx1, cy1 = max(x1, x0), max(y1, y0)
        cx2, cy2 = min(x2, x0 + width), min(y2, y0 + height)
        # Degenerate: empty source box or a clipped sliver under one pixel.
        if (area <= 0 or cx2 - cx1 < 1 or cy2 - cy1 < 1
                or (cx2 - cx1) * (cy2 - cy1) < min_visible * area):
            continue
        kept.append((cx1 - x0, cy1 - y0, cx2 - x0, cy2 - y0, label, index))
    return kept


class CocoBuilder:
    """Accumulates one split's images and annotations with 1-based ids."""

    def __init__(self) -> None:
        self.images: list[dict] = []
        self.annotations: list[dict] = []

    def add(self, file_name: str, width: int, height: int, boxes: list[Box],
            **extra) -> None:
        image_id = len(self.images) + 1
        self.images.append(dict(id=image_id, file_name=file_name, width=width,
                                height=height, **extra))
        for x1, y1, x2, y2, label, index in boxes:
            w, h = x2 - x1, y2 - y1
            self.annotations.append(dict(
                id=len(self.annotations) + 1, image_id=image_id,
                category_id=1, bbox=[x1, y1, w, h], area=w * h, iscrowd=0,
                source_label=label, source_index=index))

    def dump(self, path: Path) -> None:
        coco = dict(images=self.images, annotations=self.annotations,
                    categories=CATEGORIES)
        path.write_text(json.dumps(coco, separators=(',', ':')) + '\n')

    def stats(self, source_boxes: int) -> dict:
        """Counts for the provenance record and the printed summary."""
        anns = self.annotations
        labels = Counter(a['source_label'] for a in anns)
        # Edge tiles overlap, so one source box may occur in two tiles.
        distinct = {(self.images[a['image_id'] - 1]['source_file'],
                     a['source_index']) for a in anns}
        return dict(
            images=len(self.images), boxes=len(anns),
            empty_images=len(self.images) - len({a['image_id'] for a in anns}),
            source_boxes=source_boxes, distinct_source_boxes=len(distinct),
            source_labels=dict(sorted(labels.items())),
            source_images=sorted({i['source_file'] for i in self.images}))


def write_bytes(path: Path, data: bytes) -> None:
    """Write only when content differs, so re-runs leave mtimes alone."""
    if not path.is_file() or path.read_bytes() != data:
        path.write_bytes(data)


def tile_split(stem: str, files: dict[str, bytes], split_dir: Path,
               tile: int, min_visible: float) -> CocoBuilder:
    """Tile one large image into ``split_dir`` and return its annotations."""
    image = Image.open(io.BytesIO(files[f'{stem}.png'])).convert('RGB')
    boxes = parse_voc(files[f'{stem}.xml'])
    width, height = image.size
    coco = CocoBuilder()
    for y0 in tile_offsets(height, tile):
        for x0 in tile_offsets(width, tile):
            name = f'{stem}_x{x0:04d}_y{y0:04d}.png'
            buf = io.BytesIO()
            image.crop((x0, y0, x0 + tile, y0 + tile)).save(buf, format='PNG')
            write_bytes(split_dir / name, buf.getvalue())
            coco.add(name, tile, tile,
                     clip_boxes(boxes, x0, y0, tile, tile, min_visible),
                     source_file=f'{stem}.png', tile_x0=x0, tile_y0=y0)
    return coco


def prepare(out: Path, wheel: Path, tile: int = 400,
            min_visible: float = 0.5) -> dict:
    """Write the train/val/test COCO dataset under ``out``.

    Args:
        out: Output root.
        wheel: Path to ``deepforest-2.1.0`` wheel.
        tile: Tile side in pixels for train/val.
        min_visible: Minimum visible fraction of a clipped box to keep it.

    Returns:
        The provenance record, also written to ``provenance.json``.
    """
    if not 0 < min_visible <= 1:
        raise ValueError(f'--min-visible must be in (0, 1], got {min_visible}')
    files = read_sources(wheel)  # verify everything before touching output
    max_tile = min(min(Image.open(io.BytesIO(files[f'{s}.png'])).size)
                   for s in (TRAIN_STEM, VAL_STEM))
    if not 0 < tile <= max_tile:  # checked up front: no partial output
        raise ValueError(f'--tile must be in [1, {max_tile}], got {tile}')
    (out / 'annotations').mkdir(parents=True, exist_ok=True)
    splits = {}
    for split, stems in SPLIT_STEMS.items():
        split_dir = out / split
        split_dir.mkdir(exist_ok=True)
        if split == 'test':
            coco = CocoBuilder()
            for stem in stems:
                # Whole images: copy the verified PNG bytes unchanged and only
                # clip boxes to the image (they all fit already).
                write_bytes(split_dir / f'{stem}.png', files[f'{stem}.png'])
                size = Image.open(io.BytesIO(files[f'{stem}.png'])).size
                boxes = clip_boxes(parse_voc(files[f'{stem}.xml']), 0, 0,
                                   *size, min_visible=1e-9)
                coco.add(f'{stem}.png', *size, boxes,
                         source_file=f'{stem}.png')
        else:
            coco = tile_split(stems[0], files, split_dir, tile, min_visible)
        # Remove PNGs from earlier runs with other parameters.
        wanted = {img['file_name'] for img in coco.images}
        for stale in split_dir.glob('*.png'):
            if stale.name not in wanted:
                stale.unlink()
        coco.dump(out / 'annotations' / f'instances_{split}.json')
        splits[split] = coco.stats(
            sum(len(parse_voc(files[f'{s}.xml'])) for s in stems))
    provenance = dict(
        wheel=dict(name=wheel.name, spec=WHEEL_SPEC,
                   sha256=sha256(wheel.read_bytes()),
                   expected_sha256=WHEEL_SHA256, license='MIT'),
        source_files={DATA_PREFIX + k: v for k, v in SOURCE_SHA256.items()},
        tiling=dict(
            tile=tile, min_visible=min_visible, edge_policy=EDGE_POLICY,
            empty_tiles='kept (filter_empty_gt drops them in training)',
            bbox_convention='[xmin, ymin, xmax-xmin, ymax-ymin] from VOC '
                            'pixel coordinates as given'),
        label_mapping=LABEL_MAP, categories=CATEGORIES, splits=splits)
    (out / 'annotations' / 'provenance.json').write_text(
        json.dumps(provenance, indent=2) + '\n')
    return provenance


def main(argv: list[str] | None = None) -> int:
    """CLI entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', required=True, type=Path,
                        help='output root, e.g. data/deepforest')
    parser.add_argument('--wheel', type=Path, default=None,
                        help=f'local {WHEEL_NAME} (default: pip download)')
    parser.add_argument('--tile', type=int, default=400)
    parser.add_argument('--min-visible', type=float, default=0.5)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    out = args.out.resolve()
    try:
        wheel = args.wheel.resolve() if args.wheel else fetch_wheel(out)
        prov = prepare(out, wheel, args.tile, args.min_visible)
    except (ChecksumError, ValueError, KeyError, FileNotFoundError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    print(f'DeepForest -> COCO at {out} (class Tree; SOAP_061 Alive/Dead -> '
          'Tree, original kept as "source_label")')
    for split, c in prov['splits'].items():
        print(f'  {split:5s}: {c["images"]:3d} images ({c["empty_images"]} '
              f'empty), {c["boxes"]:4d} boxes ({c["distinct_source_boxes"]} '
              f'of {c["source_boxes"]} source boxes), '
              f'labels {c["source_labels"]}')
    print(f'  tiles {args.tile}x{args.tile}, min visible {args.min_visible}; '
          f'done in {time.perf_counter() - start:.1f}s')
    return 0


if __name__ == '__main__':
    sys.exit(main())
