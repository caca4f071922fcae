"""The tiny sets' teachers: one mapping, the configs' own paths, training
once, publishing the last checkpoint atomically."""
import glob
import json
import os
import os.path as osp

import pytest
from mmengine.config import Config

from benchmarks import teachers
from benchmarks.paths import REPO_ROOT, repo_path
from benchmarks.suites import SUITES, TEACHER_FREE
from benchmarks.teachers import (
    DEFAULT_DETECTOR,
    DETECTOR_TEACHERS,
    SETS,
    TinySet,
    detectors,
    ensure_teacher,
    get_set,
    require_data,
    teacher_ckpt,
    teacher_config,
    teacher_metrics,
    teacher_work_dir,
)


@pytest.mark.parametrize('data', sorted(SETS))
def test_every_distiller_config_loads_the_mapped_teacher(data):
    """The configs anchor ``teacher_ckpt`` at the repository with
    ``{{ fileDirname }}``; the mapping must name the same files."""
    expected = osp.join(REPO_ROOT, 'work_dirs', f'teacher_{data}',
                        'teacher.pth')
    assert teacher_ckpt(data) == expected
    assert teacher_work_dir(data) == osp.dirname(expected)
    methods = SUITES[f'{data}-methods'].methods
    distillers = [m for m in methods if m not in TEACHER_FREE]
    assert len(distillers) == 6
    for method in distillers:
        model = Config.fromfile(repo_path(methods[method])).model
        assert osp.normpath(model.teacher_ckpt) == expected, method
        assert osp.normpath(model.teacher_config) == teacher_config(data), \
            method
    assert osp.isfile(teacher_config(data))


@pytest.mark.parametrize('detector', sorted(DETECTOR_TEACHERS))
def test_detector_family_configs_load_the_mapped_teacher(detector):
    """One scheme: ``work_dirs/teacher_<detector>_<data>/teacher.pth``; each
    family's distiller configs on the set load exactly that file and the
    mapped teacher config."""
    for data in DETECTOR_TEACHERS[detector]:
        expected = osp.join(REPO_ROOT, 'work_dirs',
                            f'teacher_{detector}_{data}', 'teacher.pth')
        assert teacher_ckpt(data, detector=detector) == expected
        assert teacher_work_dir(data, detector=detector) == osp.dirname(
            expected)
        config = teacher_config(data, detector)
        assert osp.isfile(config)
        family = detector.split('-')[0]  # retinanet-32000it-192: a variant
        assert osp.basename(config).startswith(f'{family}_')
        assert Config.fromfile(config).model.type.lower() == family
        if family == detector:  # the family's tiny distillers load it
            distillers = glob.glob(osp.join(
                REPO_ROOT, 'configs', '*', f'*_{detector}_*_500it_{data}.py'))
        else:  # a variant: the distillers of the suites that name it
            distillers = [osp.join(REPO_ROOT, c) for suite in SUITES.values()
                          if suite.detector == detector
                          for m, c in suite.methods.items()
                          if m not in TEACHER_FREE]
        assert distillers, f'no tiny {detector} distiller config'
        for path in distillers:
            ckpt, cfg = _teacher_of(Config.fromfile(path))
            assert osp.normpath(ckpt) == expected, path
            assert osp.normpath(cfg) == config, path


def _teacher_of(cfg: Config) -> tuple:
    """(teacher checkpoint, teacher config) of a distiller config, or of a
    baseline whose HeadInitHook loads the teacher's head (its top-level
    ``teacher_config`` names the pair)."""
    if 'teacher_ckpt' in cfg.model:
        return cfg.model.teacher_ckpt, cfg.model.teacher_config
    hook = next(h for h in cfg.custom_hooks if h.type == 'HeadInitHook')
    return hook.checkpoint, cfg.teacher_config


def test_detectors_and_the_default(tmp_path):
    assert detectors('synthetic') == [DEFAULT_DETECTOR, 'fcos', 'atss',
                                      'gfl', 'rtmdet', 'fasterrcnn',
                                      'retinanet-32000it-192',
                                      'gfl-32000it-192']
    assert detectors('deepforest') == [DEFAULT_DETECTOR]
    # RetinaNet keeps the paths that predate the other families
    for data in SETS:
        assert teacher_ckpt(data, detector='retinanet') == teacher_ckpt(data)
        assert teacher_config(data, 'retinanet') == teacher_config(data)
    assert teacher_ckpt('synthetic', str(tmp_path), 'gfl') == str(
        tmp_path / 'teacher_gfl_synthetic' / 'teacher.pth')
    with pytest.raises(KeyError, match="no tiny 'fcos' teacher on "
                       "'deepforest'"):
        teacher_ckpt('deepforest', detector='fcos')
    with pytest.raises(KeyError, match="no tiny 'yolo' teacher"):
        teacher_config('synthetic', 'yolo')
    assert teacher_metrics('synthetic', str(tmp_path), 'gfl') == {}


def test_work_root_moves_the_teachers(tmp_path):
    assert teacher_ckpt('deepforest', str(tmp_path)) == str(
        tmp_path / 'teacher_deepforest' / 'teacher.pth')
    with pytest.raises(KeyError, match='unknown data set'):
        teacher_ckpt('coco')
    assert get_set('synthetic').make == 'make data-synthetic'


def test_require_data_names_the_make_target(monkeypatch):
    monkeypatch.setitem(SETS, 'nowhere', TinySet(
        'nowhere', SETS['synthetic'].teacher_config,
        'data/nowhere/annotations/instances_val.json', 'make data-nowhere'))
    with pytest.raises(FileNotFoundError, match='run `make data-nowhere`'):
        require_data('nowhere')


@pytest.fixture
def fake_train(monkeypatch):
    """Replaces the subprocess training: writes ``iter_<n>.pth`` (its
    content: the call number) and ``last_checkpoint``; records the calls."""
    calls = []

    def train(config, work_dir, options, label, reuse=False):
        calls.append(dict(config=config, work_dir=work_dir,
                          options=list(options), reuse=reuse))
        os.makedirs(work_dir, exist_ok=True)
        ckpt = osp.join(work_dir, f'iter_{len(calls)}.pth')
        with open(ckpt, 'w') as f:
            f.write(f'run {len(calls)}')
        with open(osp.join(work_dir, 'last_checkpoint'), 'w') as f:
            f.write(ckpt)

    monkeypatch.setattr(teachers, 'train', train)
    return calls


def test_ensure_teacher_trains_once_and_retrains_on_request(fake_train,
                                                            tmp_path):
    root = str(tmp_path)
    path = ensure_teacher('synthetic', work_root=root, options=['a=1'])
    assert path == teacher_ckpt('synthetic', root)
    assert fake_train == [dict(
        config=teacher_config('synthetic'),
        work_dir=teacher_work_dir('synthetic', root),
        options=['randomness.seed=0', 'a=1'], reuse=True)]
    assert open(path).read() == 'run 1'
    # cached: not trained again, whatever the options
    assert ensure_teacher('synthetic', work_root=root, options=['b=2']) == path
    assert len(fake_train) == 1
    # retrain: a fresh run (no reuse), the new last checkpoint published
    ensure_teacher('synthetic', retrain=True, work_root=root)
    assert fake_train[-1]['reuse'] is False
    assert open(path).read() == 'run 2'
    assert sorted(os.listdir(osp.dirname(path))) == [
        'iter_1.pth', 'iter_2.pth', 'last_checkpoint', 'teacher.pth',
        'teacher_source.json']


def test_a_teacher_of_another_config_is_set_aside_not_used(fake_train,
                                                           tmp_path, capsys):
    """teacher.pth made from another teacher config (e.g. the 500-iteration
    teacher before the converged one) is kept under its config's name and
    the set's teacher config is trained in its place; without a record the
    run that trained it names its config, and with neither it stays."""
    root = str(tmp_path)
    path = ensure_teacher('synthetic', work_root=root)
    work = osp.dirname(path)
    with open(osp.join(work, 'teacher_source.json'), 'w') as f:
        json.dump({'config': 'configs/tiny/old_teacher_500it.py'}, f)
    assert ensure_teacher('synthetic', work_root=root) == path
    assert len(fake_train) == 2 and open(path).read() == 'run 2'
    # kept outside the work dir: training the current config may clear it
    assert open(f'{work}__old_teacher_500it.pth').read() == 'run 1'
    assert 'kept as' in capsys.readouterr().out
    with open(osp.join(work, 'teacher_source.json')) as f:
        assert json.load(f)['config'] == \
            teachers._teacher_config_rel('synthetic', 'retinanet')
    # no record: the config of the run that trained it decides
    os.remove(osp.join(work, 'teacher_source.json'))
    ensure_teacher('synthetic', work_root=root)
    assert len(fake_train) == 2  # nothing says otherwise: cached
    with open(osp.join(work, 'demo_done.json'), 'w') as f:
        json.dump({'cmd': ['tools/train.py', osp.join(
            REPO_ROOT, 'configs', 'tiny', 'older_teacher.py')]}, f)
    ensure_teacher('synthetic', work_root=root)
    assert len(fake_train) == 3
    assert open(f'{work}__older_teacher.pth').read() == 'run 2'


def test_ensure_teacher_of_a_detector_family(fake_train, tmp_path, capsys):
    root = str(tmp_path)
    path = ensure_teacher('synthetic', work_root=root, detector='rtmdet')
    assert path == str(tmp_path / 'teacher_rtmdet_synthetic' / 'teacher.pth')
    assert fake_train == [dict(
        config=teacher_config('synthetic', 'rtmdet'),
        work_dir=teacher_work_dir('synthetic', root, 'rtmdet'),
        options=['randomness.seed=0'], reuse=True)]
    assert open(path).read() == 'run 1'
    # the RetinaNet teacher of the same set is another file, trained apart
    assert not osp.exists(teacher_ckpt('synthetic', root))
    ensure_teacher('synthetic', work_root=root, detector='rtmdet')
    assert len(fake_train) == 1
    assert 'teacher (rtmdet synthetic): cached' in capsys.readouterr().out
    ensure_teacher('synthetic', work_root=root)
    assert fake_train[-1]['config'] == teacher_config('synthetic')
    assert osp.isfile(teacher_ckpt('synthetic', root))


def test_failed_publish_leaves_no_teacher(monkeypatch, tmp_path):
    def train(config, work_dir, options, label, reuse=False):
        os.makedirs(work_dir, exist_ok=True)
        with open(osp.join(work_dir, 'last_checkpoint'), 'w') as f:
            f.write(osp.join(work_dir, 'iter_9.pth'))  # never written

    monkeypatch.setattr(teachers, 'train', train)
    with pytest.raises(FileNotFoundError, match='iter_9.pth'):
        ensure_teacher('synthetic', work_root=str(tmp_path))
    assert os.listdir(teacher_work_dir('synthetic', str(tmp_path))) == [
        'last_checkpoint']
