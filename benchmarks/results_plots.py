"""The results tables' plots (:func:`benchmarks.results.run_benchmark`).

:func:`make_plots` draws, for every suite, the mAP-vs-iteration curves of
its methods and ERA's alpha sweep and residual norms
(:mod:`benchmarks.plots`) from the runs' curves
(:func:`benchmarks.run_records.run_curves`), read from the work dirs or the
runs' records; :func:`plot_files` names the PNGs the tables link.
"""
import os.path as osp
from typing import Dict, List, Tuple

from .results_table import ERA, LABELS


def plot_files(suite: str) -> Dict[str, Tuple[str, str]]:
    """kind -> (file name in the work dir, title) of a suite's plots."""
    return dict(
        map=(f'{suite}_map_vs_iter.png', f'{suite}: val mAP vs iteration'),
        alpha=(f'{suite}_era_alpha.png', f'{suite}: ERA ST-mode mAP vs alpha'),
        residuals=(f'{suite}_era_residuals.png',
                   f'{suite}: ERA residual norms'))


def make_plots(work_dir: str, curves: Dict[str, Dict[str, List[dict]]]
               ) -> None:
    """Plots every suite's curves with :mod:`benchmarks.plots` (skipped,
    with a note, when that module or its plotting library is missing).

    Args:
        work_dir: Where the PNGs go (:func:`plot_files` names them).
        curves: Suite -> method label -> the
            :func:`~benchmarks.run_records.run_curves` of its finished
            seeds.
    """
    try:
        from . import plots
    except ImportError as e:
        print(f'[results] no plots: {e}', flush=True)
        return
    for suite, methods in curves.items():
        # a run recorded without its curves (its logs were lost) is left
        # out of the figures; the legends count the runs drawn
        methods = {label: [c for c in cs if c['rows']]
                   for label, cs in methods.items()}
        methods = {label: cs for label, cs in methods.items() if cs}
        era = methods.get(LABELS[ERA], [])
        names = plot_files(suite)
        for kind, fn, arg in (
                ('map', plots.plot_map_curves,
                 {label: [c['rows'] for c in cs]
                  for label, cs in methods.items()}),
                ('alpha', plots.plot_alpha, [c['alpha_sweep'] for c in era]),
                ('residuals', plots.plot_residual_norms,
                 [c['rows'] for c in era])):
            if not arg:
                continue
            name, title = names[kind]
            try:
                fn(arg, osp.join(work_dir, name), title)
            except Exception as e:  # noqa: B902 a plot never stops a table
                print(f'[results] {name} not plotted: {e!r}', flush=True)
