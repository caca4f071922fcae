"""The config is the whole truth: mmdet's own packaged tools and mmera's give
the same run, and what a new user meets first without data or network gets a
message naming the path or URL and the key to set.

The scripts run in this process with their own command line (``runpy``);
``MMERARunner.train``/``test`` are replaced by a recorder, so the scripts go
as far as building the runner and no further.
"""
import os.path as osp
import runpy
import sys
import urllib.request

import mmdet
import pytest
import torch
from cli_helpers import REPO_ROOT, TOOLS
from mmdet.registry import MODELS, RUNNERS
from mmengine.config import Config
from mmengine.registry import init_default_scope

import mmera  # noqa: F401  (registers mmera's components)
from mmera.engine.runner import MMERARunner

MMDET_TOOLS = osp.join(osp.dirname(mmdet.__file__), '.mim', 'tools')
COCO_ERA = osp.join(REPO_ROOT, 'configs', 'era',
                    'era_retinanet_r101-r50_fpn_1x_coco.py')


@pytest.fixture(autouse=True)
def _local_rank(monkeypatch):
    monkeypatch.setenv('LOCAL_RANK', '0')  # set by the scripts when missing


def _built_runner(monkeypatch, script, method, *args):
    """Runs ``script`` up to ``runner.<method>()``; returns the runner."""
    built = []
    monkeypatch.setattr(MMERARunner, method, lambda self: built.append(self))
    monkeypatch.setattr(sys, 'argv', [script, *args])
    monkeypatch.syspath_prepend(TOOLS)
    runpy.run_path(script, run_name='__main__')
    (runner,) = built
    return runner


def _describe(runner):
    loaders = {name: runner.cfg[name].dataset.type for name in
               ('train_dataloader', 'val_dataloader', 'test_dataloader')}
    return dict(runner=type(runner).__name__,
                model=type(runner.model).__name__,
                hooks=[type(hook).__name__ for hook in runner.hooks],
                datasets=loaders)


def test_mmdet_and_mmera_train_scripts_build_the_same_run(
        tiny_era_config, tmp_path, monkeypatch):
    runs = {}
    for name, tools in (('mmera', TOOLS), ('mmdet', MMDET_TOOLS)):
        runner = _built_runner(
            monkeypatch, osp.join(tools, 'train.py'), 'train',
            tiny_era_config, '--work-dir', str(tmp_path / name),
            '--cfg-options', f'experiment_name=scripts_{name}')
        runs[name] = _describe(runner)
    assert runs['mmera'] == runs['mmdet']
    run = runs['mmdet']
    assert run['runner'] == 'MMERARunner' and run['model'] == 'ERADistiller'
    assert 'ResumableCheckpointHook' in run['hooks']
    assert 'CheckpointHook' not in run['hooks']
    assert {'DistillLossWarmupHook', 'AlphaSweepHook',
            'ExportStudentHook'} <= set(run['hooks'])
    assert set(run['datasets'].values()) == {'CheckedCocoDataset'}


def test_mmdet_and_mmera_test_scripts_build_the_same_run(
        tiny_era_config, tiny_teacher_ckpt, tmp_path, monkeypatch):
    runs = {}
    for name, tools in (('mmera', TOOLS), ('mmdet', MMDET_TOOLS)):
        runner = _built_runner(
            monkeypatch, osp.join(tools, 'test.py'), 'test', tiny_era_config,
            tiny_teacher_ckpt, '--work-dir', str(tmp_path / name),
            '--cfg-options', f'experiment_name=test_scripts_{name}')
        runs[name] = _describe(runner)
    assert runs['mmera'] == runs['mmdet']
    assert runs['mmdet']['runner'] == 'MMERARunner'


def test_coco_configs_without_coco_name_the_path_and_the_key(
        tmp_path, monkeypatch):
    """A COCO config run where COCO was never downloaded: the dataset names
    the missing file and ``train_dataloader.dataset.data_root`` (mmdet's
    CocoDataset ends in a pycocotools traceback)."""
    cfg = Config.fromfile(COCO_ERA)
    init_default_scope('mmdet')
    from mmdet.registry import DATASETS
    train = cfg.train_dataloader.dataset
    train.data_root = str(tmp_path / 'coco') + '/'
    with pytest.raises(FileNotFoundError) as err:
        DATASETS.build(train)
    message = str(err.value)
    assert 'annotation file not found' in message
    assert str(tmp_path / 'coco' / 'annotations' /
               'instances_train2017.json') in message
    assert '--cfg-options train_dataloader.dataset.data_root=' in message
    val = cfg.val_dataloader.dataset
    val.data_root = str(tmp_path / 'coco') + '/'
    with pytest.raises(FileNotFoundError, match='val_dataloader.dataset.'
                       'data_root and/or test_dataloader.dataset.data_root'):
        DATASETS.build(val)


def test_an_unreachable_teacher_url_names_the_url_and_the_key(
        tiny_era_config, monkeypatch):
    """Offline: the teacher URL cannot be fetched. The error names the URL
    and model.teacher_ckpt (it was a bare URLError)."""
    def offline(*args, **kwargs):
        raise urllib.error.URLError('[Errno -3] Temporary failure in name '
                                    'resolution')
    # no request leaves the machine: torch.hub's download is cut here
    monkeypatch.setattr(urllib.request, 'urlopen', offline)
    monkeypatch.setattr(torch.hub, 'urlopen', offline)
    monkeypatch.setattr(torch.hub, 'get_dir',
                        lambda: str(REPO_ROOT) + '/.no-such-hub-dir')
    cfg = Config.fromfile(tiny_era_config)
    url = 'https://download.invalid/teacher.pth'
    cfg.model.teacher_ckpt = url
    init_default_scope('mmdet')
    model = MODELS.build(cfg.model)
    with pytest.raises(ConnectionError) as err:
        model.init_weights()
    message = str(err.value)
    assert url in message and 'model.teacher_ckpt' in message
    assert 'Temporary failure in name resolution' in message


def test_the_runner_refuses_upstream_versions_it_was_not_tested_on(
        tiny_student_config, tmp_path, monkeypatch):
    from mmera.utils import upstream
    monkeypatch.setitem(upstream.TESTED_RANGES, 'mmengine',
                        ('0.11.0', '0.12.0'))
    cfg = Config.fromfile(tiny_student_config)
    cfg.work_dir = str(tmp_path)
    with pytest.raises(RuntimeError, match=r'tested on mmengine>=0\.11\.0,'
                       r'<0\.12\.0; mmengine 0\.10\.\d+ is installed'):
        RUNNERS.build(cfg)
