"""The one driver: suites of a teacher, a baseline and methods over seeds.

For each suite asked (:data:`benchmarks.suites.SUITES`; by default the main
table's: the synthetic RetinaNet and GFL pairs and the deepforest RetinaNet
pair; a group name such as ``families`` stands for its suites) it

1. ensures the suite's teacher (a cached or shipped checkpoint, else it is
   trained, as ``make teachers`` does); the distillers' configs load it;
2. trains the baseline (the plain student) and every method of the suite
   over the seeds, into ``<work-dir>/<config name>_seed<seed>/`` (one run
   per config and seed, shared by the suites that list it; a distilled run
   whose teacher changed since is trained again);
3. evaluates each finished run's last checkpoint on the set's report split
   (its test split, never used for a choice) with ``tools/test.py``, cached
   in the run dir;
4. writes ``<work-dir>/results.md`` and ``results.json`` after every
   finished run (report and val mAP mean +- std, paired differences to the
   baseline and "above" it or not, ERA against every method, wall-clock),
   and at the end the plots (mAP vs iteration, ERA's alpha and residuals).

It is resumable: a finished run of the same command is reused and an
interrupted one resumes from its last checkpoint, so the same command picks
up where it stopped, and more seeds train only the new runs. Each finished
run's numbers and curves are also kept with the repository, in
``docs/results/runs/<run>.json`` (``--records-dir``): in a fresh clone a run
recorded there with the same config, seed and teacher is reused, not trained
again. A failed run is reported and the others go on; the next call retries
it. On a 2-core CPU machine, one thread per run, a 500-iteration baseline
run takes 4-5 min and an ERA run 12-15 min.

Examples (from the repository root)::

    python -m benchmarks                          # = make bench
    python -m benchmarks --suites demo-synthetic --no-records  # = make demo
    python -m benchmarks --suites families --seeds 0 1 2
    python -m benchmarks --suites deepforest-methods --step-times
    python -m benchmarks --report-only            # tables only
"""
import argparse
import os.path as osp
from typing import Optional, Sequence

from .results import BASELINE, DEFAULT_WORK_DIR, SUITES, run_benchmark
from .run_records import RECORDS_DIR
from .suites import GROUPS, MAIN_SUITES, expand

#: every method of any suite, the baseline first
METHODS = list(dict.fromkeys(m for s in SUITES.values() for m in s.configs()))


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """The driver's options (``argv``: default the command line's)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--suites', nargs='+',
                        choices=[*SUITES, *GROUPS], default=['main'],
                        help='suites or groups of them (main: '
                        f'{" ".join(MAIN_SUITES)}; the ERA ablations are '
                        'synthetic-ablations)')
    parser.add_argument('--methods', nargs='+', choices=METHODS,
                        default=None,
                        help=f'the methods to train (default: all, '
                        f'{BASELINE} included) and, with --step-times, to '
                        f'time beside {BASELINE}; the tables show every '
                        f'finished run of every method')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--jobs', type=int, default=1,
                        help='runs trained at once, each on one thread')
    parser.add_argument('--threads', type=int, default=None,
                        help='threads of each run (default: 1 with --jobs > '
                        '1, else all cores); 1 when other drivers or '
                        'training run beside this one')
    parser.add_argument('--work-dir', default=DEFAULT_WORK_DIR,
                        help='the runs, results.md and results.json '
                        '(default: work_dirs/results)')
    parser.add_argument('--report-only', action='store_true',
                        help='train nothing: the tables of the finished runs '
                        '(still evaluated on the report split when needed)')
    parser.add_argument('--fresh', action='store_true',
                        help='retrain runs that already finished (the '
                        'teachers stay)')
    parser.add_argument('--records-dir', default=RECORDS_DIR,
                        help='each finished run\'s numbers and curves, kept '
                        'with the repository: a run recorded there (same '
                        'config, seed and teacher) is reused when its work '
                        'dir is gone (default: docs/results/runs; the step '
                        'times are kept there too)')
    parser.add_argument('--no-records', action='store_true',
                        help='neither read nor write records: only the work '
                        'dirs count')
    parser.add_argument('--step-times', action='store_true',
                        help='also time every config\'s (or --methods\') '
                        'train step and '
                        'count its deployed cost, each in a process of its '
                        'own (on an otherwise idle machine: the table\'s '
                        'train-step and compute ratios; kept in '
                        'step_times.json)')
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error('--jobs must be >= 1')
    if args.threads is not None and args.threads < 1:
        parser.error('--threads must be >= 1')
    args.suites = expand(args.suites)
    return args


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Trains the suites asked and prints their tables."""
    args = parse_args(argv)
    text = run_benchmark(args.suites, args.seeds, args.work_dir,
                         methods=args.methods, jobs=args.jobs,
                         fresh=args.fresh, report_only=args.report_only,
                         step_times=args.step_times,
                         threads=args.threads,
                         records_dir=None if args.no_records
                         else args.records_dir)
    print(text)
    print(f'written: {osp.join(osp.abspath(args.work_dir), "results.md")} '
          'and results.json')


if __name__ == '__main__':
    main()
