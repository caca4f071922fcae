"""SSKDStageHook: phase arithmetic, schedule checks, switching and resuming
on a real tiny SSKDDistiller (also through DDP), and its error messages.

The runner here carries only what the hook reads (model, iter, epoch,
max_iters/max_epochs, train_loop, logger); tests/tools/test_sskd_tools.py runs
the hook in the real runner through tools/train.py.
"""
import copy
import os.path as osp
import socket
from types import SimpleNamespace

import pytest
import torch
import torch.distributed as dist
from mmdet.registry import HOOKS, MODELS
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.model import MMDistributedDataParallel
from mmengine.registry import init_default_scope
from mmengine.runner import EpochBasedTrainLoop
from torch.utils.data import DataLoader

import mmera  # noqa: F401  (registers the hook and the distiller)
from mmera.engine.hooks import SSKDStageHook

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY = osp.join(REPO_ROOT, 'configs', 'tiny')


@pytest.fixture(scope='module', autouse=True)
def _single_thread():
    """One thread: faster for these tiny models on a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='module')
def distiller():
    """A tiny SSKD distiller with 3 stage pairs (teacher weights random)."""
    init_default_scope('mmdet')
    cfgs = [Config.fromfile(osp.join(TINY, name)).model
            for name in ('retinanet_r18w16_fpn_500it_synthetic.py',
                         'retinanet_r34w32_fpn_500it_synthetic.py')]
    model = MODELS.build(dict(type='SSKDDistiller', student=cfgs[0],
                              teacher_config=cfgs[1],
                              stage_pairs=[(1, 1), (2, 2), (3, 3)]))
    model.teacher_loaded = True  # no checkpoint needed: only phases run
    return model


def _runner(model, it=0, epoch=0, max_iters=4, loop=None):
    logger = MMLogger.get_instance('sskd_hook_test')
    return SimpleNamespace(model=model, iter=it, epoch=epoch,
                           max_iters=max_iters, max_epochs=1,
                           train_loop=loop, logger=logger)


def test_phase_for_counts_the_boundaries_reached():
    hook = SSKDStageHook(stage_boundaries=[1, 2, 3])
    assert [hook.phase_for(i) for i in range(6)] == [0, 1, 2, 3, 3, 3]
    hook = SSKDStageHook(stage_boundaries=[80, 160, 240])
    steps = [0, 79, 80, 159, 160, 239, 240, 499, 10_000]
    assert [hook.phase_for(i) for i in steps] == [0, 0, 1, 1, 2, 2, 3, 3, 3]
    # registered: buildable from a config
    assert isinstance(HOOKS.build(dict(type='SSKDStageHook',
                                       stage_boundaries=[5])), SSKDStageHook)


@pytest.mark.parametrize('bounds, message', [
    ([], 'non-empty list of positive ints'),
    ([0, 4], 'positive ints'),
    ([2, 1.5], 'positive ints'),
    ([True], 'positive ints'),
    ([3, 3], 'strictly increase'),
    ([5, 2, 8], 'strictly increase'),
])
def test_bad_boundaries(bounds, message):
    with pytest.raises(ValueError, match=message):
        SSKDStageHook(stage_boundaries=bounds)


def test_switches_phases_and_resumes_mid_schedule(distiller, caplog):
    hook = SSKDStageHook(stage_boundaries=[1, 2, 3])
    # a run resumed at iteration 2 (restored before before_train)
    runner = _runner(distiller, it=2)
    hook.before_train(runner)
    assert distiller.phase == 2
    assert {n for n, p in distiller.named_parameters() if p.requires_grad} \
        == set(distiller.trainable_names(2))
    assert not distiller.student.backbone.layer3.training  # BN eval
    distiller.set_phase(0)  # anything set before is overridden ...
    hook.before_train(runner)
    assert distiller.phase == 2  # ... by the schedule
    hook.before_train_iter(runner, batch_idx=0)
    assert distiller.phase == 2
    runner.iter = 3
    runner.logger.addHandler(caplog.handler)
    try:
        hook.before_train_iter(runner, batch_idx=1)
    finally:
        runner.logger.removeHandler(caplog.handler)
    assert distiller.phase == 3
    assert 'SSKD: iteration 3: phase 3/3: task' in caplog.text
    assert not any(p.requires_grad
                   for p in distiller.student.backbone.parameters())


def test_epoch_boundaries_follow_runner_epoch(distiller):
    runner = _runner(distiller, it=123, epoch=1)
    runner.train_loop = EpochBasedTrainLoop(runner, DataLoader([0, 1]),
                                            max_epochs=5)
    runner.max_epochs = 5
    hook = SSKDStageHook(stage_boundaries=[1, 2, 3], by_epoch=True)
    hook.before_train(runner)
    assert distiller.phase == 1  # epoch 1, whatever the iteration
    runner.epoch = 4
    hook.before_train_iter(runner, batch_idx=0)
    assert distiller.phase == 3


def test_schedule_must_fit_the_model_and_the_loop(distiller):
    with pytest.raises(ValueError, match='2 stage_boundaries for 3 stage '
                       'pairs'):
        SSKDStageHook(stage_boundaries=[1, 2]).before_train(
            _runner(distiller))
    with pytest.raises(ValueError, match='by_epoch=True needs an '
                       'epoch-based train loop'):
        SSKDStageHook(stage_boundaries=[1, 2, 3], by_epoch=True).before_train(
            _runner(distiller))
    plain = MODELS.build(
        Config.fromfile(
            osp.join(TINY, 'retinanet_r18w16_fpn_500it_synthetic.py'))
        .model)
    with pytest.raises(ValueError, match='the model is a RetinaNet'):
        SSKDStageHook(stage_boundaries=[1]).before_train_iter(
            _runner(plain), batch_idx=0)


def test_ddp_wrapped_model_trains_only_the_phase(distiller):
    """Through MMDistributedDataParallel (1 process, gloo) with
    find_unused_parameters=True, as the configs set: the hook unwraps the
    model, and parameters frozen after wrapping do not move under AdamW."""
    from mmdet.structures import DetDataSample
    from mmengine.optim import build_optim_wrapper
    from mmengine.structures import InstanceData
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}',
                            rank=0, world_size=1)
    try:
        model = copy.deepcopy(distiller)
        for p in model.parameters():
            p.requires_grad_(True)  # as built, before any phase
        ddp = MMDistributedDataParallel(module=model,
                                        find_unused_parameters=True)
        optim = build_optim_wrapper(ddp, dict(
            optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05)))
        sample = DetDataSample(metainfo=dict(
            img_shape=(96, 96), ori_shape=(96, 96), scale_factor=(1., 1.)))
        sample.gt_instances = InstanceData(
            bboxes=torch.tensor([[8., 10., 60., 70.]]),
            labels=torch.tensor([1]))
        data = dict(inputs=[torch.randint(0, 255, (3, 96, 96),
                                          dtype=torch.uint8)],
                    data_samples=[sample])
        hook = SSKDStageHook(stage_boundaries=[1, 2, 3])
        runner = _runner(ddp)
        hook.before_train(runner)
        for it in range(4):
            runner.iter = it
            ddp.train()
            hook.before_train_iter(runner, batch_idx=it)
            assert model.phase == it
            before = copy.deepcopy(model.state_dict())
            ddp.train_step(data, optim)
            moved = {n for n, p in model.named_parameters()
                     if not torch.equal(p, before[n])}
            assert moved == set(model.trainable_names(it)), it
    finally:
        dist.destroy_process_group()
