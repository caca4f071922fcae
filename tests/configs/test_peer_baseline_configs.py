"""The peer and baseline configs: mmdet's LD (``configs/ld/``), the
head-initialised student (``configs/head_init/``, ``HeadInitHook``) and the
cost-matched students (``configs/tiny/*_<N>it_*`` of COST_MATCHED).

Every tiny config trains ONE iteration through the runner it declares, on
the tiny synthetic set (a DeepForest one with the set's first class as its
one class); the LD and head-init ones with a random teacher
checkpoint that the test writes in mmengine's format (message hub included,
so it loads under torch's ``weights_only`` only through mmera's
allow-list). The COCO LD config builds offline (random weights, no
download).
"""
import copy
import os.path as osp
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from cli_helpers import REPO_ROOT
from coco_offline import (
    MMDET_CONFIGS,
    coco_batch,
    offline,
    without_scope,
    zoo_weights,
)
from mmdet.registry import MODELS, RUNNERS
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.hub import get_config
from mmengine.logging import MessageHub
from mmengine.registry import init_default_scope

import mmera  # noqa: F401  (registers the runner, hooks; allow-lists)
from mmera.engine.hooks import HeadInitHook
from mmera.utils.model_wrappers import unwrap_model

CONFIGS = osp.join(REPO_ROOT, 'configs')
WORK_DIRS = osp.join(REPO_ROOT, 'work_dirs')
KD = 'KnowledgeDistillationSingleStageDetector'
LD_TINY = 'ld/ld_gfl_r34w32-r18w16_fpn_500it_synthetic.py'
LD_COCO = 'ld/ld_gfl_r101-r50_fpn_1x_coco.py'
# config -> (student, teacher, teacher checkpoint in work_dirs/)
HEAD_INIT = {
    'head_init/head-init_retinanet_r34w32-r18w16_fpn_500it_synthetic.py':
    ('tiny/retinanet_r18w16_fpn_500it_synthetic.py',
     'tiny/retinanet_r34w32_fpn_3000it_synthetic.py',
     'teacher_synthetic/teacher.pth'),
    # head-init and cost-matched: the control of ERA's era-headinit
    'head_init/head-init_retinanet_r34w32-r18w16_fpn_1900it_synthetic.py':
    ('tiny/retinanet_r18w16_fpn_1900it_synthetic.py',
     'tiny/retinanet_r34w32_fpn_3000it_synthetic.py',
     'teacher_synthetic/teacher.pth'),
    'head_init/head-init_gfl_r34w32-r18w16_fpn_500it_synthetic.py':
    ('tiny/gfl_r18w16_fpn_500it_synthetic.py',
     'tiny/gfl_r34w32_fpn_3000it_synthetic.py',
     'teacher_gfl_synthetic/teacher.pth'),
    # the real mini set: the ImageNet-MobileNetV2 teacher's 1-class head
    'head_init/head-init_retinanet_mnv2-r18w16_fpn_500it_deepforest.py':
    ('tiny/retinanet_r18w16_fpn_500it_deepforest.py',
     'tiny/retinanet_mnv2_fpn_2000it_deepforest.py',
     'teacher_deepforest/teacher.pth'),
}
# config -> (student, factor)
# (benchmarks/step_cost.py: ERA's era_all step / the student's)
COST_MATCHED = {
    'tiny/retinanet_r18w16_fpn_1900it_synthetic.py':
    ('tiny/retinanet_r18w16_fpn_500it_synthetic.py', 3.8),
    'tiny/gfl_r18w16_fpn_2050it_synthetic.py':
    ('tiny/gfl_r18w16_fpn_500it_synthetic.py', 4.1),
    'tiny/retinanet_r18w16_fpn_1700it_deepforest.py':
    ('tiny/retinanet_r18w16_fpn_500it_deepforest.py', 3.4),
}
# mmdet's LD loss (configs/ld/ld_r18-gflv1-r101_fpn_1x_coco.py)
MMDET_LD = Config.fromfile(
    osp.join(MMDET_CONFIGS, 'ld',
             'ld_r18-gflv1-r101_fpn_1x_coco.py')).model.bbox_head.loss_ld


@pytest.fixture(scope='module', autouse=True)
def _one_thread():
    # faster for these batch-2 CPU steps on a shared 2-core machine
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    init_default_scope('mmdet')
    yield
    torch.set_num_threads(threads)


def _cfg(rel: str) -> Config:
    return Config.fromfile(osp.join(CONFIGS, rel))


def _offline(model_cfg):
    """``model_cfg`` without a pretrained backbone (the MobileNetV2
    teacher's ImageNet ``init_cfg``): random weights, nothing read."""
    model_cfg = copy.deepcopy(model_cfg)
    model_cfg.backbone.init_cfg = None
    return model_cfg


def _on_the_tiny_set(cfg) -> None:
    """A DeepForest config (one class, 'Tree') trains on the tiny
    synthetic set with its first class ('circle') as the one class; the
    synthetic configs' classes are the set's own (nothing changes)."""
    dataset = cfg.train_dataloader.dataset
    if tuple(dataset.metainfo.classes) == ('Tree', ):
        dataset.metainfo = dict(classes=('circle', ))


def _repo_path(path: str) -> str:
    return osp.relpath(osp.normpath(path), REPO_ROOT)


def _differing_keys(cfg: Config, other: Config) -> set:
    a, b = without_scope(cfg), without_scope(other)
    return {k for k in set(a) | set(b) if a.get(k) != b.get(k)}


def write_teacher_ckpt(model_cfg, path) -> dict:
    """A random-weight (mmdet's init) detector saved as mmengine's runner
    saves one: weights, meta and the message hub (numpy arrays in
    HistoryBuffers, which torch's ``weights_only`` refuses unless mmera
    allow-listed them). Returns the weights."""
    torch.manual_seed(0)
    model = MODELS.build(model_cfg)
    model.init_weights()
    hub = MessageHub.get_instance('peer_baseline_teacher')
    hub.update_scalar('train/loss', np.float64(1.5))
    hub.update_info('iter', 500)
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    torch.save(
        dict(meta=dict(iter=500, epoch=0), state_dict=state,
             message_hub=hub.state_dict()), str(path))
    # torch >= 2.6 refuses its globals by default (numpy, the message
    # hub's buffers); it loads under weights_only through mmera's allow-list
    allowed = torch.serialization.get_safe_globals()
    torch.serialization.clear_safe_globals()
    try:
        unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(
            str(path))
    finally:
        torch.serialization.add_safe_globals(allowed)
    assert any(g.endswith('rebuild_history_buffer') for g in unsafe), unsafe
    torch.load(str(path), map_location='cpu', weights_only=True)
    return state


class _Record(Hook):
    """The weights when training starts (after every other hook's
    ``before_train``) and the first iteration's losses."""
    priority = 'LOWEST'

    def before_train(self, runner) -> None:
        self.start = {
            k: v.detach().clone()
            for k, v in unwrap_model(runner.model).state_dict().items()
        }

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        self.losses = {k: v.detach() for k, v in outputs.items()}


def _train_one_iteration(make_tiny_config, rel, tmp_path, edit=None):
    """Trains ``rel`` for one iteration on the tiny set through the runner
    the config declares, without validation; ``edit(cfg)`` adjusts the
    loaded config. Returns the runner and the record."""
    cfg = Config.fromfile(make_tiny_config(osp.join('configs', rel)))
    cfg.train_cfg.max_iters = 1
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.default_hooks.checkpoint = None
    cfg.work_dir = str(tmp_path / 'work')
    cfg.experiment_name = f'peer_{tmp_path.name}'
    _on_the_tiny_set(cfg)
    if edit is not None:
        edit(cfg)
    runner = RUNNERS.build(cfg)
    record = _Record()
    runner.register_hook(record)
    runner.train()
    assert runner.iter == 1
    for key, value in record.losses.items():
        assert torch.isfinite(value).all(), key
    return runner, record


# -- LD: mmdet's detector, configs only -------------------------------------

def test_ld_tiny_config_is_the_student_with_an_ld_head():
    cfg = _cfg(LD_TINY)
    student = _cfg('tiny/gfl_r18w16_fpn_500it_synthetic.py')
    era = _cfg('era/era_gfl_r34w32-r18w16_fpn_500it_synthetic.py')
    # same data, schedule and runtime as the student; only model differs
    assert _differing_keys(cfg, student) == {'model', 'teacher'}
    model = cfg.model.to_dict()
    assert model.pop('type') == KD
    # a {{ fileDirname }}-relative teacher config that exists; the
    # checkpoint the ERA GFL tiny config loads
    teacher = model.pop('teacher_config')
    assert osp.isfile(teacher)
    assert _repo_path(teacher) == (
        'configs/tiny/gfl_r34w32_fpn_3000it_synthetic.py')
    ckpt = model.pop('teacher_ckpt')
    assert osp.normpath(ckpt) == osp.normpath(era.model.teacher_ckpt)
    assert _repo_path(ckpt) == 'work_dirs/teacher_gfl_synthetic/teacher.pth'
    head = model['bbox_head']
    assert head.pop('type') == 'LDHead'
    assert head.pop('loss_ld') == MMDET_LD.to_dict()
    expected = student.model.to_dict()
    assert expected.pop('type') == 'GFL'
    assert expected['bbox_head'].pop('type') == 'GFLHead'
    assert without_scope(model) == without_scope(expected)


def test_ld_tiny_config_trains_one_iteration(make_tiny_config, tmp_path):
    teacher_cfg = _cfg('tiny/gfl_r34w32_fpn_500it_synthetic.py').model
    path = tmp_path / 'teacher.pth'
    teacher_state = write_teacher_ckpt(teacher_cfg, path)

    def edit(cfg):
        cfg.model.teacher_ckpt = str(path)

    runner, record = _train_one_iteration(make_tiny_config, LD_TINY,
                                          tmp_path, edit)
    model = unwrap_model(runner.model)
    assert type(model).__name__ == KD
    assert {'loss_cls', 'loss_bbox', 'loss_dfl', 'loss_ld'} <= set(
        record.losses)
    assert record.losses['loss_ld'] > 0
    # mmdet loaded the teacher (non-strictly: check every weight), which
    # stayed frozen: no grad, not in the optimizer, eval mode, unchanged
    teacher = model.teacher_model
    assert not teacher.training
    assert teacher.state_dict().keys() == teacher_state.keys()
    for key, value in teacher.state_dict().items():
        assert torch.equal(value, teacher_state[key]), key
    assert all(p.grad is None for p in teacher.parameters())
    optimized = {id(p) for group in runner.optim_wrapper.param_groups
                 for p in group['params']}
    assert not optimized & {id(p) for p in teacher.parameters()}
    # the student moved; its weights are a plain GFL student's
    assert not torch.equal(record.start['bbox_head.gfl_reg.weight'],
                           model.bbox_head.gfl_reg.weight)
    plain = MODELS.build(
        _cfg('tiny/gfl_r18w16_fpn_500it_synthetic.py').model)
    plain.load_state_dict(model.state_dict(), strict=True)


def test_ld_coco_config_builds_offline(tmp_path):
    cfg = _cfg(LD_COCO)
    stock = get_config('mmdet::gfl/gfl_r50_fpn_1x_coco.py')
    teacher = 'gfl/gfl_r101_fpn_ms-2x_coco.py'
    assert cfg.model.teacher_ckpt in zoo_weights(teacher)
    # the teacher dict is mmdet's R101 teacher config's model
    assert without_scope(cfg.model.teacher_config.model) == without_scope(
        get_config(f'mmdet::{teacher}').model)
    # the student, schedule and optimizer are mmdet's R50 GFL, head as LD
    model = without_scope(cfg.model)
    assert model.pop('type') == KD
    del model['teacher_config'], model['teacher_ckpt']
    assert model['bbox_head'].pop('type') == 'LDHead'
    assert model['bbox_head'].pop('loss_ld') == MMDET_LD.to_dict()
    expected = without_scope(stock.model)
    del expected['type'], expected['bbox_head']['type']
    assert model == expected
    for key in ('train_cfg', 'optim_wrapper', 'param_scheduler'):
        assert without_scope(cfg[key]) == without_scope(stock[key]), key
    # random weights: no pretrained backbone, a written teacher checkpoint
    path = tmp_path / 'teacher.pth'
    teacher_model = offline(cfg.model.teacher_config.model)
    teacher_state = write_teacher_ckpt(teacher_model, path)
    model_cfg = offline(cfg.model)
    model_cfg.teacher_config = dict(model=teacher_model)
    model_cfg.teacher_ckpt = str(path)
    model = MODELS.build(model_cfg)
    model.init_weights()
    assert type(model.bbox_head).__name__ == 'LDHead'
    assert model.backbone.depth == 50 and model.teacher_model.backbone.depth \
        == 101
    state = model.teacher_model.state_dict()
    assert all(torch.equal(state[k], teacher_state[k]) for k in state)
    assert not any(k.startswith('teacher') for k in model.state_dict())
    with torch.no_grad():  # the LD loss runs on mmdet's 4-conv heads
        model.train()
        batch = model.data_preprocessor(coco_batch(), True)
        losses = model.loss(batch['inputs'], batch['data_samples'])
    assert torch.isfinite(sum(losses['loss_ld']))


# -- head-initialised student -----------------------------------------------

@pytest.mark.parametrize('rel', sorted(HEAD_INIT))
def test_head_init_config_trains_one_iteration(rel, make_tiny_config,
                                               tmp_path):
    student_rel, teacher_rel, ckpt_rel = HEAD_INIT[rel]
    cfg, student = _cfg(rel), _cfg(student_rel)
    assert _differing_keys(cfg, student) == {
        'custom_hooks', 'teacher_config', 'teacher_ckpt'
    }
    assert _repo_path(cfg.teacher_config) == f'configs/{teacher_rel}'
    hook, = cfg.custom_hooks
    assert hook.type == 'HeadInitHook' and hook.module == 'bbox_head'
    assert _repo_path(hook.checkpoint) == f'work_dirs/{ckpt_rel}'

    path = tmp_path / 'teacher.pth'
    teacher = write_teacher_ckpt(_offline(_cfg(teacher_rel).model), path)

    def edit(cfg):
        cfg.custom_hooks[0].checkpoint = str(path)

    runner, record = _train_one_iteration(make_tiny_config, rel, tmp_path,
                                          edit)
    start = record.start
    head = [k for k in start if k.startswith('bbox_head.')]
    assert head and all(torch.equal(start[k], teacher[k]) for k in head)
    # the rest keeps its own init: the backbone (other widths, or another
    # backbone: MobileNetV2 has no such weight) and the neck's output convs
    # (the teacher's shapes, not its weights)
    conv1 = 'backbone.conv1.weight'
    assert conv1 not in teacher or start[conv1].shape != teacher[
        conv1].shape
    fpn = 'neck.fpn_convs.0.conv.weight'
    assert start[fpn].shape == teacher[fpn].shape
    assert not torch.equal(start[fpn], teacher[fpn])
    # then trained
    weight = unwrap_model(runner.model).state_dict()[head[0]]
    assert not torch.equal(weight, start[head[0]])


def _tiny_model(rel, **head):
    cfg = _cfg(rel).model
    cfg.bbox_head.update(head)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def test_head_init_hook_refuses_a_head_of_another_shape(tmp_path):
    path = tmp_path / 'teacher.pth'
    write_teacher_ckpt(_cfg('tiny/retinanet_r34w32_fpn_500it_synthetic.py')
                       .model, path)
    student = _tiny_model('tiny/retinanet_r18w16_fpn_500it_synthetic.py',
                          num_classes=3)  # the teacher has 5
    before = {k: v.clone() for k, v in student.bbox_head.state_dict().items()}
    runner = SimpleNamespace(model=student, iter=0, epoch=0)
    with pytest.raises(ValueError, match=r"another shape \(e\.g\. "
                       r"'bbox_head\.retina_cls\.(weight|bias)': \(\d+,.*"
                       r"nothing was loaded"):
        HeadInitHook(str(path)).before_train(runner)
    after = student.bbox_head.state_dict()
    assert all(torch.equal(after[k], before[k]) for k in before)
    # another head family: GFLHead weights for a RetinaHead
    gfl = tmp_path / 'gfl.pth'
    write_teacher_ckpt(_cfg('tiny/gfl_r34w32_fpn_500it_synthetic.py').model,
                       gfl)
    with pytest.raises(ValueError, match='are missing.*unknown to the'):
        HeadInitHook(str(gfl)).before_train(runner)
    # no such module; no such weights
    with pytest.raises(TypeError, match="no module 'roi_head'"):
        HeadInitHook(str(path), module='roi_head').before_train(runner)
    with pytest.raises(ValueError, match="no weights under 'head.'"):
        HeadInitHook(str(path), prefix='head.').before_train(runner)
    # a resumed run keeps its head
    HeadInitHook(str(gfl)).before_train(
        SimpleNamespace(model=student, iter=3, epoch=0))
    assert all(torch.equal(after[k], before[k]) for k in before)


# -- cost-matched student ---------------------------------------------------

@pytest.mark.parametrize('rel', sorted(COST_MATCHED))
def test_cost_matched_config_scales_the_student_schedule(
        rel, make_tiny_config, tmp_path):
    student_rel, factor = COST_MATCHED[rel]
    cfg, student = _cfg(rel), _cfg(student_rel)
    assert cfg.cost_factor == factor
    assert _differing_keys(cfg, student) == {
        'train_cfg', 'param_scheduler', 'default_hooks', 'cost_factor',
        'max_iters', 'warmup_iters', 'interval'
    }
    assert cfg.model == student.model

    def scaled(n):
        return round(n * factor)

    loop, ref = cfg.train_cfg, student.train_cfg
    assert loop.max_iters == scaled(ref.max_iters)
    assert loop.val_interval == scaled(ref.val_interval)
    assert cfg.default_hooks.checkpoint.interval == scaled(
        student.default_hooks.checkpoint.interval)
    assert len(cfg.param_scheduler) == len(student.param_scheduler)
    for ours, theirs in zip(cfg.param_scheduler, student.param_scheduler):
        ours, theirs = ours.to_dict(), theirs.to_dict()
        for key in ('begin', 'end', 'T_max'):
            if key in theirs:
                assert ours.pop(key) == scaled(theirs.pop(key)), key
        assert ours == theirs  # the same LR curve, stretched
    assert student.param_scheduler[-1].end == ref.max_iters
    runner, record = _train_one_iteration(make_tiny_config, rel, tmp_path)
    assert 'loss_cls' in record.losses
