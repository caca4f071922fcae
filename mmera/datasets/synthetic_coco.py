"""Deterministic synthetic COCO-format detection dataset.

Draws five simple shape classes on textured backgrounds so that tests and
CPU-only demos have a detection task that is learnable in minutes yet hard
enough (small objects, low-contrast colours, clutter, occlusion) for a large
teacher to measurably beat a small student.

Every image depends only on ``(seed, split, index)``, so generating ``N``
images yields exactly the first ``N`` images of any larger run, and repeated
runs are byte-identical.
"""
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Tuple

import cv2
import numpy as np

SYNTHETIC_CLASSES = ('circle', 'square', 'triangle', 'cross', 'ring')
GENERATOR_VERSION = '1.0'
# Distinct integers seed distinct random streams, so train and val never share
# images even with the same seed.
SPLIT_CODES = {'train': 0, 'val': 1, 'test': 2}

MIN_OBJ_SIZE = 10.0  # px; smaller shapes are barely recognisable
MAX_OBJ_FRAC = 0.4  # largest object side as a fraction of the image side
MAX_HIDDEN_FRAC = 0.5  # an annotated object may lose at most this much area
PLACEMENT_TRIES = 12
_SHIFT = 4  # cv2 fixed-point bits: sub-pixel vertices without antialiasing
_ROT_CLASSES = ('square', 'triangle', 'cross')


def _rotate(points: np.ndarray, angle_deg: float) -> np.ndarray:
    """Rotates ``(K, 2)`` points around the origin."""
    a = np.deg2rad(angle_deg)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return points @ rot.T


def _shape_mask(rng: np.random.Generator, cls: str, size: float,
                img_size: int) -> Optional[Tuple[np.ndarray, tuple]]:
    """Samples one shape's pose and rasterises it.

    Args:
        rng: Random generator of the current image.
        cls: One of ``SYNTHETIC_CLASSES``.
        size: Side (or diameter) of the unrotated shape in pixels.
        img_size: Image side in pixels.

    Returns:
        ``(mask, window)``: a boolean mask of the shape's window, whose
        location in the image is given by the ``(rows, cols)`` slice pair
        ``window``; or ``None`` if the shape does not fit or is empty.
    """
    h = size / 2.0
    angle = rng.uniform(-25.0, 25.0) if cls in _ROT_CLASSES else 0.0
    if cls == 'square':
        pts = np.array([[-h, -h], [h, -h], [h, h], [-h, h]])
    elif cls == 'triangle':
        # Isosceles with random aspect, centred on its bounding box.
        top = h * rng.uniform(0.8, 1.0)
        pts = np.array([[0.0, -top], [h, top], [-h, top]])
    elif cls == 'cross':
        t = h * rng.uniform(0.25, 0.4)  # half arm thickness
        pts = np.array([[-t, -h], [t, -h], [t, -t], [h, -t], [h, t], [t, t],
                        [t, h], [-t, h], [-t, t], [-h, t], [-h, -t],
                        [-t, -t]])
    else:  # circle / ring: rotation-invariant, drawn below
        pts = np.array([[-h, -h], [h, h]])
    pts = _rotate(pts, angle)
    # Keep the whole shape inside the image so every box is un-truncated.
    lo, hi = -pts.min(0), img_size - 1 - pts.max(0)
    if np.any(hi < lo):
        return None
    pts = pts + rng.uniform(lo, hi)
    # Rasterise only a window around the shape: whole-image masks per
    # placement attempt would dominate the run time.
    x0, y0 = np.maximum(np.floor(pts.min(0)).astype(int) - 1, 0)
    x1, y1 = np.minimum(np.ceil(pts.max(0)).astype(int) + 2, img_size)
    pts = pts - (x0, y0)
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    if cls in ('circle', 'ring'):
        c = tuple(int(v) for v in np.round(pts.mean(0) * (1 << _SHIFT)))
        r = int(round(h * (1 << _SHIFT)))
        cv2.circle(mask, c, r, 1, -1, cv2.LINE_8, _SHIFT)
        if cls == 'ring':
            # Keep the band at least ~2 px wide so small rings stay rings.
            inner = min(h * rng.uniform(0.45, 0.7), h - 2.0)
            if inner > 0.5:
                cv2.circle(mask, c, int(round(inner * (1 << _SHIFT))), 0, -1,
                           cv2.LINE_8, _SHIFT)
    else:
        poly = np.round(pts * (1 << _SHIFT)).astype(np.int32)
        cv2.fillPoly(mask, [poly], 1, cv2.LINE_8, _SHIFT)
    if not mask.any():
        return None
    return mask.astype(bool), (slice(y0, y1), slice(x0, x1))


def _background(rng: np.random.Generator, s: int) -> np.ndarray:
    """Builds a cluttered float32 ``(s, s, 3)`` background in [0, 255].

    Gradients, low-frequency colour noise, stripes, soft blotches and thin
    lines are mixed so that no global threshold separates objects from it.
    """
    # Everything low-frequency (gradient, colour noise, soft blotches) is
    # built on a coarse grid and upsampled once: bilinear upsampling keeps the
    # gradient exact and softens the rest like a blur, at a fraction of the
    # cost of full-resolution maths.
    lo = max(s // 8, 8)
    u = (np.arange(lo, dtype=np.float32) + 0.5) / lo
    theta = rng.uniform(0, 2 * np.pi)
    ramp = np.cos(theta) * u[None] + np.sin(theta) * u[:, None]
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
    c0, c1 = rng.uniform(0, 255, (2, 3)).astype(np.float32)
    low = c0 + ramp[..., None] * (c1 - c0)
    grid = int(rng.integers(3, 9))
    noise = rng.normal(0, 1, (grid, grid, 3)).astype(np.float32)
    low += cv2.resize(noise, (lo, lo), interpolation=cv2.INTER_CUBIC) * \
        rng.uniform(10, 45)
    for _ in range(int(rng.integers(0, 6))):  # irregular blotches
        k = int(rng.integers(5, 10))
        ang = np.sort(rng.uniform(0, 2 * np.pi, k))
        rad = rng.uniform(0.05, 0.25) * lo * rng.uniform(0.5, 1.0, k)
        pts = rng.uniform(0, lo, 2) + np.stack(
            [np.cos(ang), np.sin(ang)], 1) * rad[:, None]
        m = np.zeros((lo, lo), np.uint8)
        cv2.fillPoly(m, [np.round(pts).astype(np.int32)], 1)
        w = rng.uniform(0.3, 0.8)
        low[m > 0] = (1 - w) * low[m > 0] + w * rng.uniform(0, 255, 3)
    # A coarse-grid blur rounds off the blotches' blocky, pixelated edges.
    low = cv2.GaussianBlur(low, (0, 0), 0.8)
    img = cv2.resize(low, (s, s), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.5:  # sinusoidal stripes in a random colour
        phi = rng.uniform(0, 2 * np.pi)
        xx = np.arange(s, dtype=np.float32)[None] / s
        yy = xx.reshape(s, 1)
        wave = np.sin(2 * np.pi * rng.uniform(2, 14) *
                      (np.cos(phi) * xx + np.sin(phi) * yy))
        alpha = (0.5 + 0.5 * wave)[..., None] * rng.uniform(0.15, 0.5)
        img += alpha * (rng.uniform(0, 255, 3).astype(np.float32) - img)
    for _ in range(int(rng.integers(0, 4))):  # thin distractor lines
        p = tuple(int(v) for v in rng.integers(0, s, 2))
        q = tuple(int(v) for v in rng.integers(0, s, 2))
        cv2.line(img, p, q, tuple(float(v) for v in rng.uniform(0, 255, 3)),
                 int(rng.integers(1, 3)))
    return img


def _pick_colour(rng: np.random.Generator, under: np.ndarray) -> np.ndarray:
    """Samples an object colour that contrasts with the pixels it covers.

    The required contrast is itself random so some objects are obvious and
    others are faint, which keeps the task from being trivial.
    """
    ref = under.mean(0)
    need = rng.uniform(35.0, 110.0)
    best, best_d = None, -1.0
    for _ in range(20):
        col = rng.uniform(0, 255, 3)
        d = float(np.linalg.norm(col - ref))
        if d >= need:
            return col
        if d > best_d:
            best, best_d = col, d
    return best


def generate_image(seed: int, split: str, index: int,
                   img_size: int = 320) -> Tuple[np.ndarray, List[dict]]:
    """Renders one image and its objects.

    Args:
        seed: Dataset seed.
        split: ``'train'``, ``'val'`` or ``'test'``.
        index: Image index within the split.
        img_size: Image side in pixels.

    Returns:
        ``(image, objects)``: a uint8 ``(img_size, img_size, 3)`` image and a
        list of dicts with ``category_id`` (1-based), ``bbox`` (xywh floats of
        the visible pixels) and ``area`` (visible pixel count).
    """
    rng = np.random.default_rng([seed, SPLIT_CODES[split], index])
    s = img_size
    img = _background(rng, s)
    max_size = max(MIN_OBJ_SIZE + 1, MAX_OBJ_FRAC * s)
    # Per object: [category_id, full-image visible mask, area, visible px].
    objs: List[list] = []
    for _ in range(int(rng.integers(1, 9))):
        label = int(rng.integers(0, len(SYNTHETIC_CLASSES)))
        # Log-uniform sizes give as many small as large objects.
        size = float(np.exp(rng.uniform(np.log(MIN_OBJ_SIZE),
                                        np.log(max_size))))
        for _ in range(PLACEMENT_TRIES):
            shape = _shape_mask(rng, SYNTHETIC_CLASSES[label], size, s)
            # Reject poses that would bury an earlier object, so everything
            # annotated stays clearly visible.
            if shape is not None and all(
                    n_vis - (vis[shape[1]] & shape[0]).sum() >=
                    (1 - MAX_HIDDEN_FRAC) * area
                    for _, vis, area, n_vis in objs):
                break
        else:
            continue
        mask, win = shape
        for obj in objs:
            obj[3] -= int((obj[1][win] & mask).sum())
            obj[1][win] &= ~mask
        patch = img[win]  # a view: writing to it paints the image
        col = _pick_colour(rng, patch[mask])
        # Mild shading inside the object so it is not a flat colour patch.
        area = int(mask.sum())
        patch[mask] = col + rng.normal(0, rng.uniform(0, 10), (area, 1))
        vis = np.zeros((s, s), bool)
        vis[win] = mask
        objs.append([label + 1, vis, area, area])
    if rng.random() < 0.3:  # occasional slight blur, as from a soft lens
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.3, 0.8))
    img += rng.standard_normal(img.shape, np.float32) * rng.uniform(0, 8)
    image = np.clip(np.round(img), 0, 255).astype(np.uint8)
    results = []
    for cat, vis, _, _ in objs:
        ys, xs = np.nonzero(vis)
        x0, y0 = int(xs.min()), int(ys.min())
        # +1: a pixel index covers [i, i + 1), so the box is tight and ends
        # at most at the image border.
        w, h = int(xs.max()) + 1 - x0, int(ys.max()) + 1 - y0
        results.append(dict(category_id=cat,
                            bbox=[float(x0), float(y0), float(w), float(h)],
                            area=float(len(xs))))
    return image, results


def _write_split(out_dir: str, split: str, num: int, seed: int,
                 img_size: int) -> Dict[str, object]:
    """Writes one split's PNGs and COCO json; returns its summary."""
    img_dir = osp.join(out_dir, split)
    os.makedirs(img_dir, exist_ok=True)
    images, annotations = [], []
    for i in range(num):
        image, objs = generate_image(seed, split, i, img_size)
        file_name = f'{i:06d}.png'
        if not cv2.imwrite(osp.join(img_dir, file_name), image):
            raise OSError(f'could not write {osp.join(img_dir, file_name)}')
        # Ids start at 1 as in real COCO; some tools treat id 0 as "unset".
        images.append(dict(id=i + 1, file_name=file_name, width=img_size,
                           height=img_size))
        for obj in objs:
            annotations.append(dict(id=len(annotations) + 1, image_id=i + 1,
                                    iscrowd=0, segmentation=[], **obj))
    coco = dict(
        info=dict(description='mmera synthetic shapes',
                  generator='mmera.datasets.synthetic_coco',
                  version=GENERATOR_VERSION, seed=seed, split=split,
                  img_size=img_size),
        images=images, annotations=annotations,
        categories=[dict(id=i + 1, name=n, supercategory='shape')
                    for i, n in enumerate(SYNTHETIC_CLASSES)])
    ann_file = osp.join(out_dir, 'annotations', f'instances_{split}.json')
    with open(ann_file, 'w') as f:
        json.dump(coco, f, separators=(',', ':'))
    return dict(ann_file=ann_file, img_dir=img_dir, num_images=num,
                num_boxes=len(annotations))


def make_synthetic_coco(out_dir: str, num_train: int, num_val: int,
                        seed: int = 0, img_size: int = 320,
                        num_test: int = 0,
                        test_seed: Optional[int] = None) -> dict:
    """Generates the synthetic dataset in COCO layout.

    Layout: ``out_dir/{train,val[,test]}/NNNNNN.png`` and
    ``out_dir/annotations/instances_{train,val[,test]}.json``. Existing files
    with the same names are overwritten; other files are left alone.

    The test split is drawn with its own generator seed, so it shares no
    image with train and val and was never seen while tuning on val: the
    split results are reported on.

    Args:
        out_dir: Output root directory (created if missing).
        num_train: Number of training images.
        num_val: Number of validation images.
        seed: Dataset seed; the same arguments give byte-identical output.
        img_size: Side of the square images in pixels (at least 32).
        num_test: Number of test images (0: no test split).
        test_seed: The test split's generator seed; must differ from
            ``seed``. None: ``seed + 1``.

    Returns:
        ``{'train': {...}, 'val': {...}[, 'test': {...}]}`` where each
        value holds
        ``ann_file``, ``img_dir``, ``num_images`` and ``num_boxes``.
    """
    if img_size < 32:
        raise ValueError(f'img_size must be >= 32, got {img_size}')
    if min(num_train, num_val, num_test) < 0:
        raise ValueError('num_train, num_val and num_test must be '
                         'non-negative')
    test_seed = seed + 1 if test_seed is None else test_seed
    if num_test and test_seed == seed:
        raise ValueError(f'test_seed must differ from seed ({seed}): the '
                         'test split is drawn by another generator.')
    os.makedirs(osp.join(out_dir, 'annotations'), exist_ok=True)
    splits = [('train', num_train, seed), ('val', num_val, seed)]
    if num_test:
        splits.append(('test', num_test, test_seed))
    return {split: _write_split(out_dir, split, num, split_seed, img_size)
            for split, num, split_seed in splits}
