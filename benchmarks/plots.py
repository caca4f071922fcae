"""Figures of finished or partial runs: mAP curves, alpha sweeps, residuals.

Each function takes what runs made by ``tools/train.py`` logged (their
scalar rows, :func:`benchmarks.run_logs.scalar_rows`, and ERA's last alpha
sweep, :func:`benchmarks.run_logs.last_sweep`; read from the work dirs or
from the runs' records, :mod:`benchmarks.run_records`), writes a PNG and
returns its path. They tolerate runs still in progress: a seed without a
validation yet is skipped, never an error.

Figures are drawn on a bare :class:`~matplotlib.figure.Figure` (the Agg
canvas), not through ``pyplot``: no global backend or figure state is
touched, so callers that use ``pyplot`` themselves are unaffected.
"""
import os
import os.path as osp
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .run_logs import MAP_KEY, residual_series, val_series

Series = Mapping[float, float]


def mean_and_band(per_seed: Sequence[Series]
                  ) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mean and min..max band over seeds, at the x values all seeds have.

    Args:
        per_seed: One ``x -> value`` mapping per seed.

    Returns:
        tuple: ``x`` (sorted), ``mean``, ``low`` (min) and ``high`` (max),
        arrays of equal length; all empty when the seeds share no x (or
        there is no seed).
    """
    common = sorted(set.intersection(*(set(s) for s in per_seed))
                    if per_seed else ())
    if not common:
        return tuple(np.zeros(0) for _ in range(4))
    values = np.array([[s[x] for x in common] for s in per_seed],
                      dtype=float)
    return (np.array(common, dtype=float), values.mean(axis=0),
            values.min(axis=0), values.max(axis=0))


def plot_map_curves(runs: Dict[str, List[Sequence[dict]]], path: str,
                    title: str) -> str:
    """bbox mAP vs iteration per method: the seed mean and its min..max.

    Args:
        runs: Method label -> the scalar rows of each of its seeds.
        path: The PNG to write (its folder is created).
        title: The figure's title.

    Returns:
        str: ``path``.
    """
    fig, (ax,) = _figure(1)
    for label, seeds in runs.items():
        per_seed = [val_series(rows) for rows in seeds]
        xs, mean, low, high = mean_and_band(per_seed)
        if not len(xs):
            # kept in the legend so a missing method is seen, not hidden
            ax.plot([], [], label=f'{label} (no iteration common to its '
                    f'{len(seeds)} seeds yet)')
            continue
        line, = ax.plot(xs, mean, marker='o', markersize=3,
                        label=f'{label} (n={len(seeds)})')
        ax.fill_between(xs, low, high, color=line.get_color(), alpha=0.2,
                        linewidth=0)
    ax.set_xlabel('iteration')
    ax.set_ylabel('bbox mAP')
    ax.set_title(f'{title}\nline: mean over seeds, band: min..max',
                 fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_alpha(runs: Sequence[Optional[dict]], path: str,
               title: str) -> Optional[str]:
    """ST-mode bbox mAP vs alpha (ERA's last sweep), mean +- std over runs.

    Args:
        runs: The last alpha sweep of each ERA run (``AlphaSweepHook``'s:
            ``iter`` and ``results``, alpha -> metrics), None for a run
            without one.
        path: The PNG to write.
        title: The figure's title.

    Returns:
        str | None: ``path``, or None (and no file) if no run has a sweep.
    """
    sweeps = [s for s in runs if s]
    if not sweeps:
        return None
    per_run = [{float(a): float(m[MAP_KEY]) for a, m in s['results'].items()}
               for s in sweeps]
    # mean +- std needs every run at the same alphas
    alphas = sorted(set.intersection(*(set(r) for r in per_run)))
    values = np.array([[r[a] for a in alphas] for r in per_run])
    mean = values.mean(axis=0)
    # the sample std; one run has no spread to show
    std = (values.std(axis=0, ddof=1) if len(per_run) > 1
           else np.zeros_like(mean))
    fig, (ax,) = _figure(1)
    ax.errorbar(alphas, mean, yerr=std, marker='o', capsize=3,
                label=f'ST mode, mean \u00b1 std of {len(per_run)} runs')
    ax.fill_between(alphas, mean - std, mean + std, alpha=0.2, linewidth=0)
    iters = sorted({s.get('iter') for s in sweeps if 'iter' in s})
    at = ('' if not iters else f', iter {iters[0]}' if len(iters) == 1
          else f', iters {iters[0]}..{iters[-1]}')
    ax.set_xlabel('alpha (0: the student alone, 1: the TWI head alone)')
    ax.set_ylabel('bbox mAP')
    ax.set_title(f'{title}\nlast sweep{at}', fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_residual_norms(runs: Sequence[Sequence[dict]], path: str,
                        title: str) -> Optional[str]:
    """``||T_l - M_k,l|| / ||T_l||`` vs iteration: a panel per level, a
    line per approximation k (the mean over runs).

    Args:
        runs: The scalar rows of each ERA run.
        path: The PNG to write.
        title: The figure's title.

    Returns:
        str | None: ``path``, or None (and no file) if no run logged the
        norms.
    """
    per_run = [s for s in (residual_series(rows) for rows in runs) if s]
    if not per_run:
        return None
    keys = sorted(set().union(*per_run))
    levels = sorted({level for _, level in keys})
    ks = sorted({k for k, _ in keys})
    fig, axes = _figure(len(levels))
    # a sequential map: the order of the lines is the order of k
    colors = {k: _colormap(i, len(ks)) for i, k in enumerate(ks)}
    for ax, level in zip(axes, levels):
        for k in ks:
            have = [r[(k, level)] for r in per_run if (k, level) in r]
            xs, mean, _, _ = mean_and_band(have)
            if len(xs):
                ax.plot(xs, mean, color=colors[k], label=f'k={k}')
        ax.set_title(f'level {level}', fontsize=9)
        ax.set_xlabel('iteration')
        ax.grid(alpha=0.3)
    axes[0].set_ylabel('||T - M_k|| / ||T||')
    axes[0].legend(fontsize=8)
    fig.suptitle(f'{title} (mean of {len(per_run)} runs)', fontsize=10)
    return _save(fig, path)


def _colormap(i: int, n: int) -> tuple:
    return colormaps['viridis'](0.9 * i / max(1, n - 1))


def _figure(panels: int) -> Tuple[Figure, list]:
    """A figure with ``panels`` axes side by side."""
    width = 6.4 if panels == 1 else max(6.4, 3.2 * panels)
    fig = Figure(figsize=(width, 4.0), layout='constrained')
    FigureCanvasAgg(fig)
    return fig, list(fig.subplots(1, panels, sharey=True, squeeze=False)[0])


def _save(fig: Figure, path: str) -> str:
    """Writes the PNG through a temporary file, so a reader never sees half
    an image (benchmarks redraw figures while runs go on)."""
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = osp.join(folder, f'.{osp.basename(path)}.{os.getpid()}.tmp')
    fig.savefig(tmp, format='png', dpi=120)
    os.replace(tmp, path)
    return path
