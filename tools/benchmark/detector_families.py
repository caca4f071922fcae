"""ERA (and PKD) against the baseline on the tiny detector families, one table.

For each family (FCOS, ATSS, GFL, RTMDet, Faster R-CNN) and seed on the
synthetic set this script

1. trains the family's tiny teacher once (seed 0) and publishes it as
   ``work_dirs/teacher_<family>_synthetic/teacher.pth``, the checkpoint the
   family's distillation configs load (:func:`mmera.runs.teachers.
   ensure_teacher`, what ``make teachers DATA=synthetic DETECTORS=<family>``
   does);
2. trains the plain student (the family's ``configs/tiny/`` student) and
   each distiller the family has a tiny config for (ERA:
   ``configs/era/era_<family>_*_500it_synthetic.py``; PKD on the two-stage
   pair) through ``tools/train.py``, one run per seed, into
   ``<work-dir>/<family>/<method>_seed<seed>/``;
3. writes ``<work-dir>/results.json`` (every run's final bbox mAP / mAP50,
   ERA's best ST-mode alpha, its wall-clock) and ``<work-dir>/results.md``:
   teacher, baseline and each distiller (S-mode) mean +- std over the
   seeds, the per-seed paired differences distiller - baseline, for mAP and
   mAP50, and the wall-clock per run.

It is resumable: a run that finished with the same command is reused
(:func:`mmera.runs.training.train` with ``reuse``), an interrupted one
resumes from its last checkpoint, so the same command picks up where it
stopped, and adding seeds or methods trains only the new runs. A failed run
(e.g. a distiller that does not build yet) is reported in the table and the
other runs go on; the next call retries it. The tables are rewritten after
every run, from every finished run of the families asked for.

Example::

    python tools/benchmark/detector_families.py              # everything
    python tools/benchmark/detector_families.py --families fcos gfl \\
        --seeds 0 --methods teacher student
    python tools/benchmark/detector_families.py --report-only  # tables only
"""
import argparse
import json
import os
import os.path as osp
import sys
import time
from typing import Dict, List, Optional, Sequence

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from _bootstrap import ensure_mmera_importable  # noqa: E402

ensure_mmera_importable()

from mmera.runs.paths import WORK_DIRS, repo_path  # noqa: E402
from mmera.runs.seed_stats import (fmt_diffs, fmt_ms,  # noqa: E402
                                   fmt_seconds, fmt_share, gain_share,
                                   mean_std, ok_runs, paired_diffs)
from mmera.runs.teachers import (ensure_teacher, require_data,  # noqa: E402
                                 teacher_ckpt, teacher_work_dir)
from mmera.runs.training import (DONE_MARKER, STDOUT_LOG,  # noqa: E402
                                 best_alpha, final_metrics, run_seconds,
                                 train)

DATA = 'synthetic'
#: family -> its student config and its distillers' configs (the teacher
#: config is :data:`mmera.runs.teachers.DETECTOR_TEACHERS`' entry)
FAMILIES: Dict[str, Dict[str, str]] = {
    'fcos': dict(
        student='configs/tiny/fcos_r18w16_fpn_500it_synthetic.py',
        era='configs/era/era_fcos_r34w32-r18w16_fpn_500it_synthetic.py'),
    'atss': dict(
        student='configs/tiny/atss_r18w16_fpn_500it_synthetic.py',
        era='configs/era/era_atss_r34w32-r18w16_fpn_500it_synthetic.py'),
    'gfl': dict(
        student='configs/tiny/gfl_r18w16_fpn_500it_synthetic.py',
        era='configs/era/era_gfl_r34w32-r18w16_fpn_500it_synthetic.py'),
    'rtmdet': dict(
        student='configs/tiny/'
        'rtmdet_cspnextw16_cspnextpafpn_500it_synthetic.py',
        era='configs/era/era_rtmdet_cspnextw24-cspnextw16_cspnextpafpn_'
        '500it_synthetic.py'),
    'fasterrcnn': dict(
        student='configs/tiny/fasterrcnn_r18w16_fpn_500it_synthetic.py',
        era='configs/era/era_fasterrcnn_r34w32-r18w16_fpn_500it_synthetic.py',
        pkd='configs/pkd/pkd_fasterrcnn_r34w32-r18w16_fpn_500it_synthetic.py'),
}
# ERA's cheaper settings (issue 12), checked against full ERA on one family:
# era-sampled is the era-fast configs' setting, era-halftwi an ablation
FAMILIES['fcos'].update({
    'era-sampled':
    'configs/era/era-sampled_fcos_r34w32-r18w16_fpn_500it_synthetic.py',
    'era-halftwi':
    'configs/era/era-halftwi_fcos_r34w32-r18w16_fpn_500it_synthetic.py'})
METHODS = ('teacher', 'student', 'era', 'era-sampled', 'era-halftwi', 'pkd')
#: the methods compared with the baseline, and their names in the tables
DISTILLERS = {'era': 'ERA', 'era-sampled': 'ERA sampled (era-fast)',
              'era-halftwi': 'ERA sampled, TWI on half the steps',
              'pkd': 'PKD'}
#: the cheaper ERA settings, whose gain is also given as a share of ERA's
ERA_VARIANTS = ('era-sampled', 'era-halftwi')
#: the seed of the (single) teacher run, as mmera.runs.teachers trains it
TEACHER_SEED = 0


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--families', nargs='+', choices=list(FAMILIES),
                        default=list(FAMILIES))
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--methods', nargs='+', choices=METHODS,
                        default=list(METHODS),
                        help='teacher: the family teacher (the distillers '
                        'train it too when it is missing); student: the '
                        'baseline; era, pkd: the distilled students (a '
                        'family without a config for one skips it)')
    parser.add_argument('--work-dir', default=osp.join(WORK_DIRS,
                                                       'detector_families'),
                        help='the runs, results.json and results.md '
                        '(default: work_dirs/detector_families)')
    parser.add_argument('--fresh', action='store_true',
                        help='retrain student and ERA runs that already '
                        'finished (the teachers stay)')
    parser.add_argument('--report-only', action='store_true',
                        help='train nothing: tables of the finished runs')
    return parser.parse_args(argv)


# -- aggregation (pure: tested with fake metrics) ----------------------------

def summarize(results: Dict[str, Dict[str, Dict[int, dict]]]) -> Dict:
    """Per family: the teacher's metrics; for mAP and mAP50 the baseline's
    mean +- std and, per distiller run for that family, its mean +- std and
    paired differences to the baseline; the mean wall-clock per run of each
    method; the failed runs.

    Args:
        results: ``family -> method -> seed -> run``, a run being
            ``{'mAP', 'mAP50', 'train_s'}`` (finished) or ``{'error'}``.

    Returns:
        dict: ``family -> summary`` (see :func:`markdown`); a summary's
        ``summary[key]['methods'][method]`` is ``{'stat', 'diffs',
        'diff'}``.
    """
    out = {}
    for family, methods in results.items():
        base = ok_runs(methods.get('student', {}))
        teacher = ok_runs(methods.get('teacher', {}))
        summary = dict(teacher=next(iter(teacher.values()), None))
        for key in ('mAP', 'mAP50'):
            per_method = {}
            for method in DISTILLERS:
                if method not in methods:
                    continue
                runs = ok_runs(methods[method])
                diffs = paired_diffs(base, runs, key)
                per_method[method] = dict(
                    stat=mean_std([r[key] for r in runs.values()]),
                    diffs=diffs, diff=mean_std(list(diffs.values())))
            for method in ERA_VARIANTS:
                if method in per_method and 'era' in per_method:
                    per_method[method]['share'] = gain_share(
                        per_method[method]['diffs'],
                        per_method['era']['diffs'])
            summary[key] = dict(
                baseline=mean_std([r[key] for r in base.values()]),
                methods=per_method)
        summary['train_s'] = {
            method: mean_std([r['train_s'] for r in ok_runs(runs).values()
                              if 'train_s' in r])
            for method, runs in methods.items()
        }
        summary['failed'] = {
            method: sorted(s for s, r in runs.items() if 'error' in r)
            for method, runs in methods.items()
            if any('error' in r for r in runs.values())
        }
        out[family] = summary
    return out


def markdown(summary: Dict) -> str:
    """The tables: one per metric (mAP, mAP50) with a row per family and
    distiller, then the wall-clock."""
    lines = []
    for key, title in (('mAP', 'bbox mAP'), ('mAP50', 'bbox mAP50')):
        lines += [
            f'### {title}', '',
            '| family | teacher | baseline | method | method mAP | '
            'method - baseline (mean) | method - baseline (per seed) | '
            "share of full ERA's gain |",
            '| --- | --- | --- | --- | --- | --- | --- | --- |',
        ]
        for family, s in summary.items():
            m = s[key]
            teacher = s['teacher']
            head = (f'| {family} | '
                    f'{"-" if teacher is None else f"{teacher[key]:.3f}"} | '
                    f'{fmt_ms(m["baseline"])} |')
            rows = m['methods'] or {'era': dict(stat=None, diffs={},
                                                diff=None)}
            for method, r in rows.items():
                lines.append(
                    f'{head} {DISTILLERS[method]} | {fmt_ms(r["stat"])} | '
                    f'{fmt_ms(r["diff"], signed=True)} | '
                    f'{fmt_diffs(r["diffs"])} | '
                    f'{fmt_share(r.get("share"))} |')
        lines.append('')
    lines += ['### Wall-clock per run', '',
              '| family | teacher | baseline | '
              + ' | '.join(DISTILLERS.values()) + ' | failed runs |',
              '| --- | --- | --- | ' + '--- | ' * len(DISTILLERS) + '--- |']
    for family, s in summary.items():
        t = s['train_s']
        failed = '; '.join(f'{m} seeds {seeds}'
                           for m, seeds in s['failed'].items()) or '-'
        cells = [fmt_seconds(t.get(m))
                 for m in ('teacher', 'student', *DISTILLERS)]
        lines.append(f'| {family} | ' + ' | '.join(cells) +
                     f' | {failed} |')
    return '\n'.join(lines) + '\n'


# -- the runs ----------------------------------------------------------------

def run_dir(work_dir: str, family: str, method: str, seed: int) -> str:
    """Where a student or ERA run trains: ``<work_dir>/<family>/
    <method>_seed<seed>``; the teacher's is its published work dir."""
    if method == 'teacher':
        return teacher_work_dir(DATA, detector=family)
    return osp.join(work_dir, family, f'{method}_seed{seed}')


def read_run(path: str, method: str) -> Optional[dict]:
    """The metrics of a finished run in ``path`` (None if unfinished)."""
    if not osp.isfile(osp.join(path, DONE_MARKER)):
        return None
    try:
        run = dict(final_metrics(path), train_s=run_seconds(path))
    except (OSError, IndexError, KeyError, ValueError) as e:
        return dict(error=f'unreadable run: {e}')
    if method.startswith('era'):
        try:
            run['st'] = best_alpha(path)
        except (OSError, IndexError, KeyError, ValueError):
            pass
    return run


def train_one(work_dir: str, family: str, method: str, seed: int,
              fresh: bool) -> dict:
    """Trains (or reuses) one run; its metrics, or ``{'error'}``."""
    label = f'{family} {method} s{seed}'
    path = run_dir(work_dir, family, method, seed)
    try:
        if method == 'teacher':
            ensure_teacher(DATA, detector=family)
        else:
            options = [f'randomness.seed={seed}']
            if method in DISTILLERS:
                options.append('model.teacher_ckpt=' +
                               ensure_teacher(DATA, detector=family))
            train(repo_path(FAMILIES[family][method]), path, options, label,
                  reuse=not fresh)
    except SystemExit as e:  # train() names the failed run's log
        print(f'[detector_families] {label} FAILED: {e}', flush=True)
        return dict(error=str(e), log=osp.join(path, STDOUT_LOG))
    return read_run(path, method) or dict(error='no finished run')


def family_methods(family: str, methods: Sequence[str]) -> List[str]:
    """``methods`` (in :data:`METHODS` order) that ``family`` has: the
    teacher and the baseline always, a distiller where it has a config."""
    return [m for m in METHODS if m in methods and (
        m in ('teacher', 'student') or m in FAMILIES[family])]


def collect(work_dir: str, families: Sequence[str], seeds: Sequence[int],
            methods: Sequence[str]) -> Dict:
    """The finished runs on disk (nothing trained), as :func:`summarize`
    takes them; unfinished runs are left out."""
    results = {}
    for family in families:
        results[family] = {}
        for method in family_methods(family, methods):
            runs = {}
            for seed in ([TEACHER_SEED] if method == 'teacher' else seeds):
                run = read_run(run_dir(work_dir, family, method, seed),
                               method)
                if run is not None:
                    runs[seed] = run
            results[family][method] = runs
    return results


def write_report(work_dir: str, results: Dict, meta: Dict) -> str:
    """Writes ``results.json`` and ``results.md``; returns the markdown."""
    summary = summarize(results)
    text = (f'# Distillation on the tiny detector families ({DATA}, 500 it)'
            f'\n\nTeacher: seed {TEACHER_SEED}; baseline and distillers: '
            f'seeds {meta["seeds"]}, final validation (distillers in '
            f'S-mode). '
            f'Updated {meta["updated"]}.\n\n' + markdown(summary))
    os.makedirs(work_dir, exist_ok=True)
    with open(osp.join(work_dir, 'results.json'), 'w') as f:
        json.dump(dict(meta=meta, results=results, summary=summary), f,
                  indent=1, default=str)
    with open(osp.join(work_dir, 'results.md'), 'w') as f:
        f.write(text)
    return text


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    try:
        require_data(DATA)
    except FileNotFoundError as e:
        raise SystemExit(str(e))
    work_dir = osp.abspath(args.work_dir)
    report_methods = [m for m in METHODS if m in args.methods] if (
        args.report_only) else list(METHODS)
    results = collect(work_dir, args.families, args.seeds, report_methods)

    def report() -> str:
        meta = dict(seeds=list(args.seeds), families=list(args.families),
                    updated=time.strftime('%Y-%m-%d %H:%M'),
                    teacher_ckpts={f: teacher_ckpt(DATA, detector=f)
                                   for f in args.families})
        return write_report(work_dir, results, meta)

    if not args.report_only:
        start = time.time()
        for family in args.families:
            for method in family_methods(family, args.methods):
                seeds = [TEACHER_SEED] if method == 'teacher' else args.seeds
                for seed in seeds:
                    print(f'[detector_families {time.time() - start:6.0f}s] '
                          f'{family} {method} seed {seed}', flush=True)
                    results[family].setdefault(method, {})[seed] = train_one(
                        work_dir, family, method, seed, args.fresh)
                    report()
    print(report())
    print(f'written: {osp.join(work_dir, "results.md")} and results.json')


if __name__ == '__main__':
    main()
