"""Generates the deterministic synthetic shapes dataset in COCO format.

Example::

    python tools/dataset_converters/make_synthetic_coco.py \
        --out data/synthetic_coco --num-train 2000 --num-val 300 --seed 0 \
        --num-test 200 --test-seed 1
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
    parser.add_argument('--num-test', type=int, default=0,
                        help='number of test images (the report split)')
    parser.add_argument('--test-seed', type=int, default=None,
                        help='the test split\'s own generator seed '
                        '(default: --seed + 1)')
    parser.add_argument('--img-size', type=int, default=320,
                        help='side of the square images in pixels')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    start = time.perf_counter()
    summary = make_synthetic_coco(args.out, args.num_train, args.num_val,
                                  seed=args.seed, img_size=args.img_size,
                                  num_test=args.num_test,
                                  test_seed=args.test_seed)
    elapsed = time.perf_counter() - start
    splits = ', '.join(f'{split} {info["num_images"]} images / '
                       f'{info["num_boxes"]} boxes'
                       for split, info in summary.items())
    test_seed = args.seed + 1 if args.test_seed is None else args.test_seed
    seeds = f'seed {args.seed}' + (f', test seed {test_seed}'
                                   if 'test' in summary else '')
    print(f'synthetic COCO -> {args.out}: {splits}, {args.img_size}px, '
          f'{seeds}, {elapsed:.1f}s')


if __name__ == '__main__':
    main()
