"""The run figures, drawn from fake run dirs in the format mmengine and
``AlphaSweepHook`` write."""
import json
import os

import numpy as np
import pytest
from matplotlib.image import imread

from benchmarks import plots
from benchmarks.plots import (
    mean_and_band,
    plot_alpha,
    plot_map_curves,
    plot_residual_norms,
)
from benchmarks.run_logs import (
    last_sweep,
    residual_series,
    scalar_rows,
    val_series,
)
from benchmarks.training import val_history

PNG_MAGIC = b'\x89PNG\r\n\x1a\n'


def _train_row(step, **extra):
    # what LoggerHook writes after a logged training iteration
    return dict(lr=0.01, loss=1.0 / step, time=0.1, iter=step, step=step,
                **extra)


def _val_row(mAP, step=0):
    # mmengine stamps validations with the epoch (0 in iteration-based
    # runs) unless log_metric_by_epoch=False
    return {'coco/bbox_mAP': mAP, 'coco/bbox_mAP_50': mAP + 0.2,
            'data_time': 0.01, 'time': 0.5, 'step': step}


def _write_segment(work_dir, stamp, rows, tail=''):
    folder = os.path.join(work_dir, stamp, 'vis_data')
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, 'scalars.json'), 'w') as f:
        f.write(''.join(json.dumps(r) + '\n' for r in rows) + tail)


def _map_run(tmp_path, name, maps, every=25, val_every=50):
    """A run that logs every ``every`` iterations and validates every
    ``val_every``, with the mAPs ``maps`` in order."""
    work = str(tmp_path / name)
    rows, it = [], 0
    for mAP in maps:
        for _ in range(val_every // every):
            it += every
            rows.append(_train_row(it))
        rows.append(_val_row(mAP))
    _write_segment(work, '20260101_000000', rows)
    return work


def _residual_run(tmp_path, name, values, steps=(10, 20, 30)):
    """``values[k][l]``: the norm logged at every step (minus step/1000)."""
    work = str(tmp_path / name)
    rows = []
    for step in steps:
        norms = {f'era.residual_k{k}_p{lvl}': v - step / 1000
                 for k, per_level in enumerate(values)
                 for lvl, v in enumerate(per_level)}
        rows.append(_train_row(step, **norms))
    _write_segment(work, '20260101_000000', rows)
    return work


def _sweep(iteration, maps):
    return dict(iter=iteration, best_alpha=0.5, results={
        str(a): {'coco/bbox_mAP': m, 'coco/bbox_mAP_50': m + 0.2}
        for a, m in maps.items()})


def _alpha_run(tmp_path, name, sweeps):
    work = tmp_path / name
    work.mkdir()
    (work / 'alpha_sweep.json').write_text(json.dumps(sweeps, indent=1))
    return str(work)


def _assert_png(path, width=None):
    assert os.path.isfile(path) and os.path.getsize(path) > 0
    with open(path, 'rb') as f:
        assert f.read(8) == PNG_MAGIC
    image = imread(path)
    assert image.ndim == 3 and image.shape[2] in (3, 4)
    assert image.shape[0] > 100 and image.shape[1] > 100
    if width is not None:
        assert image.shape[1] == width
    # no temporary file is left next to it
    assert not [n for n in os.listdir(os.path.dirname(path))
                if n.endswith('.tmp')]


# -- reading runs ------------------------------------------------------------
def test_rows_are_read_across_resumed_segments_and_a_torn_last_line(
        tmp_path):
    work = str(tmp_path / 'run')
    _write_segment(work, '20260101_000000',
                   [_train_row(25), _train_row(50), _val_row(0.1)])
    # the resumed segment re-logs iteration 50
    second = [_train_row(50), _train_row(75), _train_row(100),
              _val_row(0.3)]
    _write_segment(work, '20260102_000000', second)
    # the same validations val_history reads
    assert [r['coco/bbox_mAP'] for r in val_history(work)] == [0.1, 0.3]
    # the run is still writing: a torn last line is skipped
    _write_segment(work, '20260102_000000', second, tail='{"lr": 0.0')
    rows = scalar_rows(work)
    assert [r['step'] for r in rows] == [25, 50, 0, 50, 75, 100, 0]
    # the validations sit at the iteration logged just before them
    assert val_series(rows) == {50: 0.1, 100: 0.3}
    assert scalar_rows(str(tmp_path / 'missing')) == []


def test_a_validation_stamped_with_its_iteration_keeps_it():
    # log_metric_by_epoch=False: the row's own step is the iteration
    rows = [_train_row(40), _val_row(0.2, step=50)]
    assert val_series(rows) == {50: 0.2}


def test_mean_and_band_use_only_the_common_iterations():
    seeds = [{50: 0.1, 100: 0.3, 150: 0.4},
             {50: 0.3, 100: 0.5},
             {0: 0.0, 50: 0.2, 100: 0.1}]
    xs, mean, low, high = mean_and_band(seeds)
    np.testing.assert_allclose(xs, [50, 100])
    np.testing.assert_allclose(mean, [0.2, 0.3])
    np.testing.assert_allclose(low, [0.1, 0.1])
    np.testing.assert_allclose(high, [0.3, 0.5])
    for empty in (mean_and_band([{1: 0.0}, {2: 0.0}]), mean_and_band([])):
        assert all(len(a) == 0 for a in empty)


def test_residual_series_by_k_and_level(tmp_path):
    work = _residual_run(tmp_path, 'era', [[1.0, 0.9], [0.5, 0.4]])
    series = residual_series(scalar_rows(work))
    assert sorted(series) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert series[(1, 0)] == pytest.approx({10: 0.49, 20: 0.48, 30: 0.47})
    # the losses (era.loss_*) and validation rows are not norms
    assert residual_series([_val_row(0.1), _train_row(
        5, **{'era.loss_residual': 0.1})]) == {}


# -- the figures -------------------------------------------------------------
def test_map_curves_plot_the_mean_at_common_iterations(tmp_path,
                                                       monkeypatch):
    runs = {'ERA': [_map_run(tmp_path, 'era0', [0.1, 0.2, 0.3]),
                    _map_run(tmp_path, 'era1', [0.2, 0.4])],  # partial
            'student': [_map_run(tmp_path, 'st0', [0.1, 0.1, 0.2])],
            'pending': [str(tmp_path / 'not_started')]}
    drawn = []
    real = plots.mean_and_band

    def spy(per_seed):
        drawn.append(real(per_seed))
        return drawn[-1]

    monkeypatch.setattr(plots, 'mean_and_band', spy)
    path = str(tmp_path / 'figs' / 'map.png')
    runs = {label: [scalar_rows(d) for d in dirs]
            for label, dirs in runs.items()}
    assert plot_map_curves(runs, path, 'tiny synthetic') == path
    _assert_png(path)
    era, student, pending = drawn
    # ERA: only the two iterations both seeds reached
    np.testing.assert_allclose(era[0], [50, 100])
    np.testing.assert_allclose(era[1], [0.15, 0.3])
    np.testing.assert_allclose(student[0], [50, 100, 150])
    assert len(pending[0]) == 0


def test_alpha_plot_of_the_last_sweeps(tmp_path):
    runs = [
        _alpha_run(tmp_path, 'a', [_sweep(250, {0.0: 0.0, 0.5: 0.0}),
                                   _sweep(500, {0.0: 0.2, 0.5: 0.3,
                                                1.0: 0.1})]),
        _alpha_run(tmp_path, 'b', [_sweep(500, {0.0: 0.4, 0.5: 0.5,
                                                1.0: 0.3})]),
        str(tmp_path / 'no_sweep'),
    ]
    path = str(tmp_path / 'alpha.png')
    sweeps = [last_sweep(d) for d in runs]
    assert [s['iter'] if s else None for s in sweeps] == [500, 500, None]
    assert plot_alpha(sweeps, path, 'ERA ST mode') == path
    _assert_png(path)


def test_alpha_plot_is_none_without_a_sweep(tmp_path):
    empty = _alpha_run(tmp_path, 'empty', [])
    path = str(tmp_path / 'alpha.png')
    sweeps = [last_sweep(empty), last_sweep(str(tmp_path / 'none'))]
    assert sweeps == [None, None]
    assert plot_alpha(sweeps, path, 't') is None
    assert not os.path.exists(path)


@pytest.mark.parametrize('levels', [1, 3])
def test_residual_plot_has_a_panel_per_level(tmp_path, levels):
    runs = [_residual_run(tmp_path, f'era{i}',
                          [[1.0 + i] * levels, [0.6 + i] * levels,
                           [0.3 + i] * levels]) for i in range(2)]
    runs.append(_map_run(tmp_path, 'student', [0.1]))  # no norms: skipped
    path = str(tmp_path / f'res{levels}.png')
    runs = [scalar_rows(d) for d in runs]
    assert plot_residual_norms(runs, path, 'ERA residuals') == path
    # figure width grows with the panels (3.2 in each, 120 dpi)
    _assert_png(path, width=None if levels == 1 else int(3.2 * 3 * 120))


def test_residual_plot_is_none_without_norms(tmp_path):
    runs = [_map_run(tmp_path, 'student', [0.1]), str(tmp_path / 'none')]
    path = str(tmp_path / 'res.png')
    runs = [scalar_rows(d) for d in runs]
    assert plot_residual_norms(runs, path, 't') is None
    assert not os.path.exists(path)
