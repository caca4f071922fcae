"""The plain students' plateau, from the run records of the plateau suites.

Each plateau suite (``synthetic-<detector>-plateau``) trains the plain
student with one schedule shape at doubling lengths (its baseline and its
``student-<n>it`` methods). The plateau is the shortest length whose double
adds less than :data:`MIN_GAIN` val mAP (on the seeds both lengths have).
:func:`plateau_block` is the documentation's ``plateau`` block: per suite,
each length's val and report mAP, what doubling it added, and the gap to
the suite's teacher (its recorded val mAP), then the plateau it finds.
"""
import re
from typing import Dict, List, Optional, Tuple

from .seed_stats import fmt_ms, ok_runs, runs_stat, wall_clock_line
from .suites import SUITES

#: the val mAP a doubled schedule must add for the shorter one to be short
MIN_GAIN = 0.01
#: the suites of the block and their titles; each suite's teacher works at
#: its size (its val mAP sets the last column)
PLATEAU_SUITES = {
    'synthetic-retinanet-plateau': 'RetinaNet R18 x1/4, 320 px',
    'synthetic-retinanet-plateau-192': 'RetinaNet R18 x1/4, 192 px',
    'synthetic-gfl-plateau': 'GFL R18 x1/4, 320 px',
    'synthetic-gfl-plateau-192': 'GFL R18 x1/4, 192 px'}

Runs = Dict[int, dict]


def lengths(suite: str, results: Dict[str, Dict[str, Runs]]
            ) -> List[Tuple[int, Runs]]:
    """``(iterations, seed -> run)`` of the suite's lengths, shortest
    first (the iterations read from each config's name)."""
    out = []
    for method, config in SUITES[suite].configs().items():
        its = int(re.search(r'_(\d+)it_', config).group(1))
        out.append((its, results.get(suite, {}).get(method, {})))
    return sorted(out, key=lambda x: x[0])


def plateau_of(rows: List[Tuple[int, Runs]]) -> Optional[int]:
    """The shortest length whose double adds less than :data:`MIN_GAIN`
    val mAP (mean over the seeds both have), or None."""
    by_len = dict(rows)
    for its, runs in rows:
        double = by_len.get(2 * its)
        gain = _gain(runs, double or {})
        if gain is not None and gain < MIN_GAIN:
            return its
    return None


def _gain(short: Runs, long: Runs) -> Optional[float]:
    short, long = ok_runs(short, 'val_mAP'), ok_runs(long, 'val_mAP')
    seeds = sorted(set(short) & set(long))
    if not seeds:
        return None
    return sum(long[s]['val_mAP'] - short[s]['val_mAP']
               for s in seeds) / len(seeds)


def plateau_block(results: Dict[str, Dict[str, Runs]],
                  teachers: Dict[str, Tuple[str, dict]]) -> List[str]:
    """The ``plateau`` block's lines.

    Args:
        results: ``suite -> method -> seed -> run`` (the run records).
        teachers: ``suite -> (teacher config, its val metrics)``.
    """
    lines = []
    for suite, title in PLATEAU_SUITES.items():
        rows = lengths(suite, results)
        config, metrics = teachers[suite]
        t_map = metrics.get('mAP')
        lines += [f'**{title}** (`{suite}`; teacher `{config}`, val mAP ' + (
                  f'{t_map:.3f}' if t_map is not None else
                  '- (no shipped copy)') + '):',
                  '', '| iterations | seeds | val mAP | report mAP | '
                  'val mAP added by doubling (on the seeds both lengths '
                  'have) | val mAP - teacher |',
                  '| --- | --- | --- | --- | --- | --- |']
        by_len = dict(rows)
        for its, runs in rows:
            val, report = runs_stat(runs, 'val_mAP'), runs_stat(runs)
            gain = _gain(by_len.get(its // 2, {}), runs)
            gap = '-' if val is None or t_map is None else \
                f'{val["mean"] - t_map:+.3f}'
            lines.append(
                f'| {its} | {len(ok_runs(runs, "val_mAP"))} | '
                f'{fmt_ms(val, count=False)} | '
                f'{fmt_ms(report, count=False)} | '
                + ('-' if gain is None else f'{gain:+.3f}') + f' | {gap} |')
        lines += ['', f'Plateau (doubling adds less than {MIN_GAIN} val '
                  f'mAP): {plateau_word(rows)}', '']
        wall = wall_clock_line(runs for _, runs in rows)
        lines += [wall, ''] if wall else []
    return lines[:-1]


def plateau_word(rows: List[Tuple[int, Runs]]) -> str:
    """What the records say of the plateau: its length, the longest length
    it is not reached by, or that no length has its double recorded."""
    found = plateau_of(rows)
    by_len = dict(rows)
    decided = [its for its, runs in rows
               if _gain(runs, by_len.get(2 * its, {})) is not None]
    return (f'{found} iterations.' if found else
            f'not reached by {max(decided)} iterations.' if decided else
            'not decided yet (no length has its double recorded).')

