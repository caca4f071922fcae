"""The tiny sets' teachers: one mapping, the configs' own paths, training
once, publishing the last checkpoint atomically."""
import os
import os.path as osp

import pytest
from mmengine.config import Config

from mmera.runs import teachers
from mmera.runs.methods import METHODS, config_of, uses_teacher
from mmera.runs.paths import REPO_ROOT
from mmera.runs.teachers import (SETS, TinySet, ensure_teacher, get_set,
                                 require_data, teacher_ckpt, teacher_config,
                                 teacher_work_dir)


@pytest.mark.parametrize('data', sorted(SETS))
def test_every_distiller_config_loads_the_mapped_teacher(data):
    """The configs anchor ``teacher_ckpt`` at the repository with
    ``{{ fileDirname }}``; the mapping must name the same files."""
    expected = osp.join(REPO_ROOT, 'work_dirs', f'teacher_{data}',
                        'teacher.pth')
    assert teacher_ckpt(data) == expected
    assert teacher_work_dir(data) == osp.dirname(expected)
    distillers = [m for m in METHODS if uses_teacher(m)]
    assert len(distillers) == 6
    for method in distillers:
        model = Config.fromfile(config_of(method, data)).model
        assert osp.normpath(model.teacher_ckpt) == expected, method
        assert osp.normpath(model.teacher_config) == teacher_config(data), \
            method
    assert osp.isfile(teacher_config(data))


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
        'iter_1.pth', 'iter_2.pth', 'last_checkpoint', 'teacher.pth']


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
