"""The one driver: suites of a teacher, a baseline and methods over seeds.

A suite (:data:`SUITES`, :mod:`benchmarks.suites`) is a tiny set, the
teacher detector its distillers learn from, the plain student (the baseline)
and the methods compared with it. :func:`run_benchmark` trains every run of
the suites asked, ``<work_dir>/<config name>_seed<seed>/`` (one run per
config and seed, whichever suites list it), through ``tools/train.py``
(:func:`benchmarks.training.train`: a finished run of the same command is
reused, an interrupted one resumed), evaluates each finished run's last
checkpoint on the set's report split (:mod:`benchmarks.report_split`) and
rewrites ``results.md`` / ``results.json`` after every finished run
(:mod:`benchmarks.results_table`), then plots the curves
(:mod:`benchmarks.plots`). With a records dir, every finished run's numbers
and curves are also kept there (:mod:`benchmarks.run_records`): a later
run without the work dirs (a fresh clone) reuses them.

Runs train side by side with ``jobs`` > 1 (threads, each waiting on its
``tools/train.py`` child); the teachers are ensured first, one at a time,
so no two runs train the same teacher.
"""
import os.path as osp
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Dict, List, Optional, Sequence, Tuple

from .paths import WORK_DIRS, repo_path
from .report_split import evaluate as evaluate_report
from .report_split import split_size
from .results_plots import make_plots, plot_files
from .results_table import LABELS, write_report
from .run_records import (
    load_record,
    read_curves,
    record_key,
    run_curves,
    teacher_used,
    weights_sha256,
    write_record,
    write_teacher_used,
)
from .step_times import load_step_times, measure_step_times
from .suites import BASELINE, SUITES, TEACHER_FREE, Suite  # noqa: F401
from .teachers import (
    ensure_teacher,
    require_data,
    teacher_ckpt,
    teacher_metrics,
)
from .training import (
    DONE_MARKER,
    STDOUT_LOG,
    best_alpha,
    child_threads,
    final_metrics,
    run_seconds,
    train,
)

#: The default root of the runs and tables.
DEFAULT_WORK_DIR = osp.join(WORK_DIRS, 'results')


def run_dir(work_dir: str, suite: str, method: str, seed: int) -> str:
    """Where a run trains: ``<work_dir>/<config name>_seed<seed>``.

    One run per config and seed, whichever suites list it: the ablation
    suite's baseline and ERA are the main suite's runs, trained once.
    """
    config = SUITES[suite].configs()[method]
    return osp.join(work_dir,
                    f'{osp.splitext(osp.basename(config))[0]}_seed{seed}')


def read_run(path: str, config: str, data: str) -> Optional[dict]:
    """A finished run's numbers, evaluating it on the report split if needed.

    Args:
        path: The run's work dir.
        config: Its config.
        data: Its set.

    Returns:
        dict | None: ``val_mAP``, ``val_mAP50``, ``train_s`` and the
        report-split ``mAP`` / ``mAP50`` (or ``report_error``; ERA runs also
        ``st``, their best ST-mode alpha); ``{'error'}`` for an unreadable
        run; None for an unfinished one.
    """
    if not osp.isfile(osp.join(path, DONE_MARKER)):
        return None
    try:
        val = final_metrics(path)
        run = dict(val_mAP=val['mAP'], val_mAP50=val['mAP50'],
                   train_s=run_seconds(path))
    except (OSError, IndexError, KeyError, ValueError) as e:
        return dict(error=f'unreadable run: {e}')
    report = evaluate_report(config, path, data)
    if 'error' in report:
        run['report_error'] = report['error']
    else:
        run.update(mAP=report['mAP'], mAP50=report['mAP50'])
    try:
        run['st'] = best_alpha(path)
    except (OSError, IndexError, KeyError, ValueError):
        pass  # only ERA runs sweep alpha
    return run


def run_one(work_dir: str, suite: str, method: str, seed: int,
            train_it: bool = True, fresh: bool = False,
            records_dir: Optional[str] = None,
            teacher_sha: Optional[str] = None) -> Optional[dict]:
    """Trains (or reuses) one run and reads it (see :func:`read_run`).

    A run is reused from its work dir when it finished there, else from its
    record in ``records_dir`` (the run of the same config, seed and teacher
    trained in another checkout); only without either is it trained. Every
    run read from a work dir refreshes its record.

    Args:
        work_dir: The root of the runs.
        suite: A key of :data:`SUITES`.
        method: :data:`BASELINE` or one of the suite's methods.
        seed: ``randomness.seed`` of the run.
        train_it: Train the run (else only read a finished one).
        fresh: Retrain a finished run (its record is not used).
        records_dir: The runs' records (None: none read or written).
        teacher_sha: The SHA-256 of the suite's teacher (None: hashed here).

    Returns:
        dict | None: The run; ``{'error', 'no_config'}`` when its config
        does not exist, ``{'error', 'log'}`` when its training failed.
    """
    spec = SUITES[suite]
    config = repo_path(spec.configs()[method])
    if not osp.isfile(config):
        return dict(error=f'no config: {spec.configs()[method]}',
                    no_config=True)
    path = run_dir(work_dir, suite, method, seed)
    name = osp.basename(path)
    teacher = None
    if method not in TEACHER_FREE:
        teacher = teacher_sha or _teacher_sha(spec)
    key = record_key(config, seed, teacher) if records_dir else {}
    record = None if fresh else load_record(records_dir, name, key)
    # a run distilled from another teacher than today's is redone
    stale = teacher is not None and teacher_used(path) not in (None, teacher)
    if train_it and record is None:
        label = f'{suite} {method} s{seed}'
        try:
            train(config, path, [f'randomness.seed={seed}'], label,
                  reuse=not (fresh or stale))
        except SystemExit as e:  # train() names the failed run's log
            print(f'[results] {label} FAILED: {e}', flush=True)
            return dict(error=str(e), log=osp.join(path, STDOUT_LOG))
        stale = False
        if teacher is not None:
            write_teacher_used(path, teacher)
    if stale or not osp.isfile(osp.join(path, DONE_MARKER)):
        return None if record is None else dict(record['run'],
                                                from_record=True)
    run = read_run(path, config, spec.data)
    if records_dir and run is not None and 'mAP' in run:
        # a re-read finished run keeps what its record says of its origin
        # (a record re-keyed by benchmarks.rekey says so in its source)
        write_record(records_dir, name, key, run, run_curves(path),
                     **({} if record is None else
                        dict(source=record['source'])))
    return run


def _teacher_sha(spec: Suite) -> Optional[str]:
    """The SHA-256 of the suite's teacher weights (None: not there)."""
    ckpt = teacher_ckpt(spec.data, detector=spec.detector)
    return weights_sha256(ckpt) if osp.isfile(ckpt) else None


def _prepare(suites: Sequence[str], train_it: bool,
             methods: Optional[Sequence[str]] = None) -> Dict[str, str]:
    """Checks each suite's data and ensures its teacher where one of
    ``methods`` (default all) needs it (trained only when ``train_it``; else
    a shipped copy is installed, whose SHA-256 is what the records of the
    suite's distilled runs match); returns ``suite -> problem`` for the
    suites that cannot train."""
    problems = {}
    for suite in suites:
        spec = SUITES[suite]
        # plain students train while the teacher is still training
        needs_teacher = any(m not in TEACHER_FREE for m in spec.configs()
                            if methods is None or m in methods)
        try:
            require_data(spec.data)
            if needs_teacher:
                ensure_teacher(spec.data, detector=spec.detector,
                               train_missing=train_it)
        except (FileNotFoundError, SystemExit, ValueError) as e:
            print(f'[results] {suite}: {e}', flush=True)
            problems[suite] = str(e)
    return problems


def run_benchmark(suites: Sequence[str], seeds: Sequence[int], work_dir: str,
                  methods: Optional[Sequence[str]] = None, jobs: int = 1,
                  fresh: bool = False, report_only: bool = False,
                  step_times: bool = False,
                  records_dir: Optional[str] = None,
                  threads: Optional[int] = None) -> str:
    """Trains the runs asked, ``jobs`` at once, and writes the tables.

    Every method of the suites is in the tables (its finished runs of
    ``seeds``); ``methods`` says which ones train. A failed run is reported
    and the others go on; the next call retries it.

    Args:
        suites: Keys of :data:`SUITES`.
        seeds: The seeds of every method.
        work_dir: The root of the runs and of ``results.md`` /
            ``results.json``.
        methods: The methods to train (:data:`BASELINE` included); default
            all.
        jobs: Runs trained at once.
        fresh: Retrain finished runs.
        report_only: Train nothing (finished runs are still evaluated on
            the report split).
        step_times: Time every config's train step (of ``methods`` only,
            beside the plain student's, where given) after the runs (their
            teachers exist by then), for the table's step and compute
            ratios and deployed cost
            (:func:`benchmarks.step_times.measure_step_times`).
        records_dir: Where the runs' records are read and written
            (:mod:`benchmarks.run_records`; the step times are kept there
            too); None: only the work dirs.
        threads: Threads of each run (None: one when ``jobs`` > 1, else
            torch's default).

    Returns:
        str: The markdown of the tables.
    """
    work_dir = osp.abspath(work_dir)
    problems = _prepare(suites, not report_only, methods)
    tasks: List[Tuple[str, str, int, bool]] = []
    for seed in seeds:  # seed-major: the first seed's table fills first
        for suite in suites:
            for method in SUITES[suite].configs():
                train_it = not report_only and suite not in problems and (
                    methods is None or method in methods)
                tasks.append((suite, method, seed, train_it))
    # one job per run dir (suites share runs), training if any asks it;
    # the runs only read go first: they are quick
    jobs_of: Dict[str, List[Tuple[str, str, int, bool]]] = {}
    for task in tasks:
        jobs_of.setdefault(run_dir(work_dir, *task[:3]), []).append(task)
    tasks = sorted(((*same[0][:3], any(t[3] for t in same))
                    for same in jobs_of.values()), key=lambda t: t[3])
    results: Dict = {s: {m: {} for m in SUITES[s].configs()} for s in suites}
    # hashed once per suite, after _prepare installed or trained them
    teacher_shas = {suite: _teacher_sha(SUITES[suite]) for suite in suites}
    meta = dict(seeds=list(seeds), suites=list(suites), problems=problems,
                configs={s: SUITES[s].configs() for s in suites},
                step_dir=records_dir or work_dir)

    def one(task: Tuple[str, str, int, bool]) -> Optional[dict]:
        suite, method, seed, train_it = task
        try:
            return run_one(work_dir, suite, method, seed, train_it, fresh,
                           records_dir, teacher_shas[suite])
        except Exception as e:  # noqa: B902 one broken run stops no other
            print(f'[results] {suite} {method} s{seed}: {e!r}', flush=True)
            return dict(error=f'{type(e).__name__}: {e}')

    start = time.time()
    if threads is None and jobs > 1:
        threads = 1
    with child_threads(threads), ThreadPoolExecutor(max(1, jobs)) as ex:
        futures = {ex.submit(one, t): t for t in tasks}
        for future in as_completed(futures):
            suite, method, seed, train_it = futures[future]
            run = future.result()
            if run is not None:
                for same in jobs_of[run_dir(work_dir, suite, method, seed)]:
                    results[same[0]][same[1]][seed] = run
            if train_it and not (run or {}).get('no_config'):
                print(f'[results {time.time() - start:6.0f}s] {suite} '
                      f'{method} s{seed} done', flush=True)
                write_tables(work_dir, results, meta)
    if step_times:
        measure_step_times(suites, records_dir or work_dir,
                           methods=methods)
    make_plots(work_dir, {
        suite: {LABELS.get(m, m): [_curves(work_dir, records_dir, suite, m,
                                           s, r)
                                   for s, r in sorted(seeds.items())
                                   if 'val_mAP' in r]
                for m, seeds in runs.items()}
        for suite, runs in results.items()})
    return write_tables(work_dir, results, meta)


def _curves(work_dir: str, records_dir: Optional[str], suite: str,
            method: str, seed: int, run: dict) -> dict:
    """The run's :func:`~benchmarks.run_records.run_curves`, from its work
    dir or, for a run reused from its record, from the record."""
    path = run_dir(work_dir, suite, method, seed)
    if run.get('from_record'):
        return read_curves(records_dir, osp.basename(path))
    return run_curves(path)


def write_tables(work_dir: str, results: Dict, meta: Dict) -> str:
    """Writes ``results.md`` / ``results.json`` of ``results`` (``suite ->
    method -> seed -> run``) with each suite's teacher and existing plots.

    Args:
        work_dir: Where the tables (and plots) are.
        results: The runs.
        meta: ``seeds``, ``problems`` and ``step_dir``, where the step
            times are (see :func:`run_benchmark`).

    Returns:
        str: The markdown.
    """
    heads, links, teachers = {}, {}, {}
    for suite in results:
        spec = SUITES[suite]
        t = teachers[suite] = teacher_metrics(spec.data,
                                              detector=spec.detector)
        val = ', '.join(f'{k} {t[k]:.3f}' for k in ('mAP', 'mAP50')
                        if k in t) or '- (no teacher run logged here)'
        size = split_size(spec.data)
        split = (f' Report split: {size["images"]} images, {size["boxes"]} '
                 'boxes' + (' (few: read its differences with care)'
                            if size['images'] < 20 else '') + '.'
                 if size else '')
        heads[suite] = (f'Set {spec.data}, {spec.detector} teacher: val '
                        f'{val}.{split}')
        links[suite] = [(name, title) for name, title in
                        plot_files(suite).values()
                        if osp.isfile(osp.join(work_dir, name))]
    # the step times are kept with the records, else in the work dir
    steps = load_step_times(meta.get('step_dir', work_dir))
    meta = {k: v for k, v in meta.items() if k != "step_dir"}
    meta.update(updated=time.strftime('%Y-%m-%d %H:%M'), teachers=teachers,
                step_times=steps)
    return write_report(work_dir, results, meta, heads, links)
