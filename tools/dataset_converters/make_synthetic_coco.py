"""Generates the deterministic synthetic shapes dataset in COCO format.

Example::

    python tools/dataset_converters/make_synthetic_coco.py \
        --out data/synthetic_coco --num-train 2000 --num-val 300 --seed 0
"""
import argparse
import time

from mmera.datasets import make_synthetic_coco


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Generate a synthetic COCO-format detection dataset '
        '(circle, square, triangle, cross, ring).')
    parser.add_argument('--out', required=True, help='output root directory')
    parser.add_argument('--num-train', type=int, required=True,
                        help='number of training images')
    parser.add_argument('--num-val', type=int, required=True,
                        help='number of validation images')
    parser.add_argument('--seed', type=int, default=0, help='dataset seed')
    parser.add_argument('--img-size', type=int, default=320,
                        help='side of the square images in pixels')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    start = time.perf_counter()
    summary = make_synthetic_coco(args.out, args.num_train, args.num_val,
                                  seed=args.seed, img_size=args.img_size)
    elapsed = time.perf_counter() - start
    tr, va = summary['train'], summary['val']
    print(f'synthetic COCO -> {args.out}: '
          f'train {tr["num_images"]} images / {tr["num_boxes"]} boxes, '
          f'val {va["num_images"]} images / {va["num_boxes"]} boxes, '
          f'{args.img_size}px, seed {args.seed}, {elapsed:.1f}s')


if __name__ == '__main__':
    main()
