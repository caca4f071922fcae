"""Which method trains on which of mmdet's own COCO detector pairs.

Builds every (pair, method) offline with random weights and trains one step
on two random 160 px images (SSKD: its first and its last phase); prints a
markdown table of ``trains`` / ``refused [n]`` with the refusal messages
(see :mod:`mmera.analysis.pair_probe`; the methods are mmera's distillers,
mmdet's LD and the head-initialised student). :mod:`benchmarks.zoo_sweep`
does the same for one pair of every mmdet zoo folder::

    python -m benchmarks.support_table
    python -m benchmarks.support_table --pairs "RTMDet s -> tiny" \\
        --methods ERA RKD --json work_dirs/support.json
"""
import argparse
import json

from mmera.analysis.pair_probe import METHODS, PAIRS, markdown, support_table


def main() -> None:
    """Prints the table of the pairs and methods asked."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--pairs', nargs='+', choices=list(PAIRS),
                        default=list(PAIRS))
    parser.add_argument('--methods', nargs='+', choices=list(METHODS),
                        default=list(METHODS))
    parser.add_argument('--json', help='also save the rows here')
    args = parser.parse_args()
    rows = support_table(args.pairs, args.methods)
    print(markdown(rows, args.methods))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(rows, f, indent=2)


if __name__ == '__main__':
    main()
