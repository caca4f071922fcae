"""``python -m benchmarks.train_teachers`` trains a tiny teacher to exactly
the file the distillation configs load, and keeps it on the next call."""
import filecmp
import os
import os.path as osp
import runpy
import shutil
import sys

import pytest
import torch
from cli_helpers import run_tool
from mmengine.config import Config

import benchmarks.teachers as teachers
from benchmarks.paths import REPO_ROOT
from benchmarks.shipped_teachers import teacher_checkpoint
from benchmarks.teachers import teacher_ckpt

TOOL = 'benchmarks.train_teachers'


def _run_in_process(argv: list) -> None:
    """Runs the tool's ``__main__`` in this process with ``argv``."""
    sys.argv = ['train_teachers', *argv]
    runpy.run_module(TOOL, run_name='__main__', alter_sys=False)
ERA_SYNTHETIC = osp.join('configs', 'era',
                         'era_retinanet_r34w32-r18w16_fpn_500it_synthetic.py')


def _tiny_options(data_root: str) -> list:
    """``--cfg-options`` for the teacher run: the tiny synthetic set at its
    160 px, 2 iterations, batch 2, in the main process, every detection
    kept."""
    root = data_root + '/'
    ann = root + 'annotations/instances_val.json'
    options = ['train_cfg.max_iters=2', 'train_cfg.val_interval=2',
               'train_dataloader.batch_size=2', 'val_dataloader.batch_size=2',
               'model.test_cfg.score_thr=0.0',
               'train_dataloader.dataset.pipeline.2.scale=(160,160)',
               'val_dataloader.dataset.pipeline.1.scale=(160,160)',
               f'val_evaluator.ann_file={ann}',
               f'test_evaluator.ann_file={ann}']
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        options += [f'{loader}.num_workers=0',
                    f'{loader}.persistent_workers=False',
                    f'{loader}.dataset.data_root={root}']
    return options


def test_default_teacher_is_the_configs_teacher_ckpt():
    cfg = Config.fromfile(osp.join(REPO_ROOT, ERA_SYNTHETIC))
    assert osp.normpath(cfg.model.teacher_ckpt) == teacher_ckpt('synthetic')


def test_train_teachers_writes_the_configs_teacher_ckpt(synthetic_root,
                                                        tmp_path, monkeypatch,
                                                        capsys):
    # A checkout rooted in tmp_path (a copy of configs/): there the ERA
    # config's teacher_ckpt, anchored with {{ fileDirname }}, resolves to
    # <checkout>/work_dirs/teacher_synthetic/teacher.pth
    checkout = tmp_path / 'checkout'
    shutil.copytree(osp.join(REPO_ROOT, 'configs'), checkout / 'configs')
    cfg = Config.fromfile(str(checkout / ERA_SYNTHETIC))
    expected = osp.normpath(cfg.model.teacher_ckpt)
    assert expected == str(checkout / 'work_dirs' / 'teacher_synthetic' /
                           'teacher.pth')

    cmd = ['--data', 'synthetic', '--work-root',
           str(checkout / 'work_dirs'), '--cfg-options',
           *_tiny_options(synthetic_root)]
    out = run_tool(['-m', TOOL, *cmd], cwd=REPO_ROOT).stdout
    assert osp.isfile(cfg.model.teacher_ckpt), out  # the config's own path
    assert f'teacher synthetic: {expected}' in out
    work = osp.dirname(expected)
    # exactly the run's best validation checkpoint, published under its name
    best = teacher_checkpoint(work)
    assert osp.basename(best).startswith('best_coco_bbox_mAP_iter_')
    assert filecmp.cmp(expected, best, shallow=False)
    assert not [f for f in os.listdir(work) if '.tmp' in f]
    state = torch.load(expected, map_location='cpu')['state_dict']
    assert any(k.startswith('backbone.layer4') for k in state)
    # the ERA config's teacher loads it
    from mmdet.registry import MODELS
    from mmengine.registry import init_default_scope
    init_default_scope('mmdet')
    teacher = MODELS.build(Config.fromfile(cfg.model.teacher_config).model)
    teacher.load_state_dict(state, strict=True)

    # a second call keeps the teacher (no --retrain), whatever the options;
    # in this process (mmera is imported already: saves an interpreter)
    stamp = os.stat(expected).st_mtime_ns
    monkeypatch.setattr(sys, 'argv', sys.argv)  # restored afterwards
    _run_in_process(cmd[:-2])  # a different last option
    out = capsys.readouterr().out
    assert f'teacher (synthetic): cached {expected}' in out
    assert 'training' not in out
    assert os.stat(expected).st_mtime_ns == stamp


@pytest.fixture
def fake_teachers(monkeypatch, tmp_path):
    """Runs the tool in this process with ``ensure_teacher`` recording its
    calls instead of training (the tool imports it from the module)."""
    calls = []

    def ensure_teacher(data, retrain=False, work_root=None, options=(),
                       detector='retinanet'):
        calls.append((data, detector, retrain, list(options)))
        return teacher_ckpt(data, work_root, detector)

    monkeypatch.setattr(teachers, 'ensure_teacher', ensure_teacher)
    monkeypatch.setattr(sys, 'argv', sys.argv)  # restored afterwards

    def run(*args):
        _run_in_process(['--work-root', str(tmp_path), *args])
        return calls

    return run


def test_detectors_default_is_retinanet(fake_teachers, capsys):
    assert fake_teachers('--data', 'synthetic', 'deepforest') == [
        ('synthetic', 'retinanet', False, []),
        ('deepforest', 'retinanet', False, [])]
    out = capsys.readouterr().out
    assert 'teacher synthetic: ' in out and 'teacher deepforest: ' in out


def test_detectors_pick_the_families(fake_teachers, tmp_path, capsys):
    calls = fake_teachers('--data', 'synthetic', '--detectors', 'gfl',
                          'rtmdet', '--retrain', '--cfg-options', 'a=1')
    assert calls == [('synthetic', 'gfl', True, ['a=1']),
                     ('synthetic', 'rtmdet', True, ['a=1'])]
    expected = tmp_path / 'teacher_gfl_synthetic' / 'teacher.pth'
    assert f'teacher gfl synthetic: {expected}' in capsys.readouterr().out


def test_detectors_all_and_unknown_pairs(fake_teachers):
    calls = fake_teachers('--data', 'synthetic', 'deepforest',
                          '--detectors', 'all')
    assert [(d, det) for d, det, _, _ in calls] == [
        ('synthetic', 'retinanet'), ('synthetic', 'fcos'),
        ('synthetic', 'atss'), ('synthetic', 'gfl'),
        ('synthetic', 'rtmdet'), ('synthetic', 'fasterrcnn'),
        ('deepforest', 'retinanet')]
    calls.clear()
    with pytest.raises(SystemExit, match=r"no tiny teacher for \['fcos'\] "
                       'on deepforest'):
        fake_teachers('--data', 'deepforest', '--detectors', 'fcos')
    assert calls == []  # checked before any training
