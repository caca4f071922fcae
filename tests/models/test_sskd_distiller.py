"""SSKDDistiller on the real tiny RetinaNet pair: stage pairing, phases
(what learns, what stays bit-identical), frozen teacher, errors, and the
COCO and deepforest configs."""
import copy
import os.path as osp

import pytest
import torch
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.structures import InstanceData

from mmera.models import SSKDDistiller, load_model_config
from mmera.models.sskd.sskd_distiller import backbone_stage_groups

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SSKD_CONFIGS = osp.join(REPO_ROOT, 'configs', 'sskd')
# the tiny schedule's optimizer: weight decay would move a frozen parameter
# if the optimizer ever stepped it
ADAMW = dict(type='OptimWrapper',
             optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05))


def _build(student_cfg, teacher_cfg, teacher_ckpt=None, **kwargs):
    model = MODELS.build(
        dict(type='SSKDDistiller', student=copy.deepcopy(student_cfg),
             teacher_config=copy.deepcopy(teacher_cfg),
             teacher_ckpt=teacher_ckpt, **kwargs))
    assert isinstance(model, SSKDDistiller)
    if teacher_ckpt is not None:
        model.init_weights()
    return model


def _data(size=128, num_classes=5, seed=0):
    """A train_step batch: raw uint8 images and ground truth."""
    gen = torch.Generator().manual_seed(seed)
    inputs, samples = [], []
    for i in range(2):
        inputs.append(torch.randint(0, 255, (3, size, size), generator=gen,
                                    dtype=torch.uint8))
        sample = DetDataSample(metainfo=dict(
            img_shape=(size, size), ori_shape=(size, size),
            scale_factor=(1., 1.)))
        sample.gt_instances = InstanceData(
            bboxes=torch.tensor([[10., 12., 70., 90.],
                                 [60., 30., 120., 110.]]),
            labels=torch.tensor([i, num_classes - 1]))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def _param_names(model):
    return {n for n, _ in model.named_parameters()}


@pytest.fixture
def model(student_cfg, teacher_cfg, teacher_ckpt):
    return _build(student_cfg, teacher_cfg, teacher_ckpt)


# -- pairing ------------------------------------------------------------------
def test_stages_pair_by_stride_and_phases_name_their_modules(model):
    # R18 x1/4 and R34 x1/2 both output strides 4, 8, 16, 32
    assert model.stage_pairs == [(0, 0), (1, 1), (2, 2), (3, 3)]
    assert model.stage_strides == [4, 8, 16, 32]
    assert model.num_pairs == 4
    assert model.phase_modules[0] == [
        'student.backbone.conv1', 'student.backbone.bn1',
        'student.backbone.relu', 'student.backbone.maxpool',
        'student.backbone.layer1', 'adapters.0']
    assert model.phase_modules[2] == ['student.backbone.layer3', 'adapters.2']
    assert model.phase_modules[4] == ['student.neck', 'student.bbox_head']
    # student -> teacher channels: 16..128 -> 32..256
    assert [a.convs[0].weight.shape[:2] for a in model.adapters] == [
        (32, 16), (64, 32), (128, 64), (256, 128)]
    assert 'stride 16' in model.describe_phase(2)
    assert model.describe_phase(4).startswith('task: backbone frozen')
    # every student parameter learns in exactly one phase
    phases = [set(model.trainable_names(p)) for p in range(5)]
    student = {n for n in _param_names(model) if n.startswith('student.')}
    assert set().union(*phases) >= student
    assert sum(len(p & student) for p in phases) == len(student)


def test_explicit_pairs_merge_unpaired_stages_into_the_next(student_cfg,
                                                             teacher_cfg):
    model = _build(student_cfg, teacher_cfg,
                   stage_pairs=[(1, 1), (2, 2), (3, 3)])
    assert model.num_pairs == 3
    assert 'student.backbone.layer1' in model.phase_modules[0]
    assert 'student.backbone.layer2' in model.phase_modules[0]


def test_deepforest_config_pairs_a_mobilenetv2_teacher_by_stride():
    cfg = Config.fromfile(osp.join(SSKD_CONFIGS,
                                   'sskd_retinanet_mnv2-r18w16_fpn_500it_deepforest.py'))
    teacher = load_model_config(cfg.model.teacher_config)
    assert teacher.backbone.type == 'MobileNetV2'
    model = MODELS.build(cfg.model)  # the teacher is built, not loaded
    # teacher strides 8, 16, 32: the student's stride-4 stage joins phase 0
    assert model.stage_pairs == [(1, 0), (2, 1), (3, 2)]
    assert model.phase_modules[0][-3:] == [
        'student.backbone.layer1', 'student.backbone.layer2', 'adapters.0']
    assert [a.convs[0].weight.shape[:2] for a in model.adapters] == [
        (32, 32), (96, 64), (320, 128)]
    hook = [h for h in cfg.custom_hooks if h.type == 'SSKDStageHook'][0]
    assert len(hook.stage_boundaries) == model.num_pairs
    assert cfg.model_wrapper_cfg.find_unused_parameters


def test_frozen_stages_of_the_student_config_are_skipped(student_cfg,
                                                         teacher_cfg):
    student_cfg.backbone.frozen_stages = 1  # stem + layer1 never train
    model = _build(student_cfg, teacher_cfg)
    assert model.stage_pairs == [(1, 1), (2, 2), (3, 3)]
    model.set_phase(0)
    trainable = set(model.trainable_names(0))
    assert any('layer2' in n for n in trainable)
    assert not any('layer1' in n or 'backbone.conv1' in n for n in trainable)
    with pytest.raises(ValueError, match='nothing to train'):
        _build(student_cfg, teacher_cfg, stage_pairs=[(0, 0), (1, 1),
                                                       (2, 2), (3, 3)])


# -- phases -------------------------------------------------------------------
def test_gradients_reach_only_the_phase_modules(model, batch):
    inputs, samples = batch
    model.train()
    for phase in range(model.num_pairs + 1):
        model.set_phase(phase)
        model.zero_grad(set_to_none=True)
        losses = model.loss(inputs, samples)
        if phase < model.num_pairs:
            assert set(losses) == {'sskd.loss_mimic', 'sskd.phase'}
        else:
            assert set(losses) == {'loss_cls', 'loss_bbox', 'sskd.phase'}
        assert float(losses['sskd.phase']) == phase
        loss, _ = model.parse_losses(losses)
        loss.backward()
        with_grad = {n for n, p in model.named_parameters()
                     if p.grad is not None}
        assert with_grad == set(model.trainable_names(phase)), phase
        # (blocks' inner convs start at zero gradient: mmdet zero-initialises
        # each residual branch's last BN, so check the phase as a whole)
        assert sum(float(model.get_parameter(n).grad.abs().sum())
                   for n in with_grad) > 0, phase
        assert all(p.grad is None for p in model.teacher.parameters())


def test_frozen_parts_stay_bit_identical_over_steps(model):
    # built before any phase, as the runner does: every parameter is in it
    optim = build_optim_wrapper(model, ADAMW)
    teacher_before = copy.deepcopy(model.teacher.state_dict())
    params = _param_names(model)
    for phase in range(model.num_pairs + 1):
        model.set_phase(phase)
        model.train()
        before = copy.deepcopy(model.state_dict())
        for step in range(2):
            model.train_step(_data(seed=step), optim)
        changed = {k for k, v in model.state_dict().items()
                   if not torch.equal(v, before[k])}
        trainable = set(model.trainable_names(phase))
        assert changed & params == trainable, phase
        # BN statistics move only inside the stages this phase trains
        stats = {k for k in changed - params if 'running_mean' in k}
        prefixes = model.phase_modules[phase]
        assert all(any(k.startswith(m + '.') for m in prefixes)
                   for k in changed - params), phase
        assert bool(stats) == (phase < model.num_pairs), phase
    for key, value in model.teacher.state_dict().items():
        assert torch.equal(value, teacher_before[key]), key
    assert not model.teacher.training
    assert not any(p.requires_grad for p in model.teacher.parameters())
    assert not any(k.startswith('teacher') for k in model.state_dict())


def test_train_keeps_frozen_modules_in_eval(model):
    model.set_phase(0)
    model.train()
    # the hook switches after the loop's train(): modes follow at once
    model.set_phase(1)
    model.set_phase(1)  # idempotent
    grads = {n: p.requires_grad for n, p in model.named_parameters()}
    for _ in range(2):
        backbone = model.student.backbone
        assert backbone.layer2.training and backbone.layer2[0].bn1.training
        assert not backbone.bn1.training
        assert not backbone.layer1[0].bn1.training
        assert not backbone.layer3[0].bn2.training
        assert not model.student.neck.training
        assert model.training and model.student.training  # containers
        assert grads == {n: p.requires_grad
                         for n, p in model.named_parameters()}
        model.eval()
        model.train()
    model.set_phase(model.num_pairs)
    assert not any(m.training for m in model.student.backbone.modules())
    assert all(m.training for m in model.student.bbox_head.modules())
    assert not any(p.requires_grad
                   for p in model.student.backbone.parameters())


def test_predict_is_the_student_alone(model, make_batch):
    inputs, samples = make_batch(num_images=1)
    model.eval()
    with torch.no_grad():
        a = model.predict(inputs, copy.deepcopy(samples))[0].pred_instances
        b = model.student.predict(inputs, copy.deepcopy(samples))[0]
    assert len(a) > 0 and torch.equal(a.scores, b.pred_instances.scores)


# -- errors -------------------------------------------------------------------
def test_loss_without_a_phase_names_the_hook(model, batch):
    with pytest.raises(ValueError, match='SSKDStageHook'):
        model.loss(*batch)
    with pytest.raises(ValueError, match=r'in \[0, 4\]'):
        model.set_phase(5)


@pytest.mark.parametrize('pairs, message', [
    ([(0, 1)], 'stride 4, teacher output 1 stride 8'),
    ([(1, 1), (1, 2)], 'must increase'),
    ([(0, 0), (1, 1), (2, 2), (4, 3)], 'must increase'),
    ([(0, 0), (1, 1)], 'no phase would train them'),
    ([(0, 0, 1)], 'int pairs'),
    ([], 'stage_pairs is empty'),
])
def test_bad_stage_pairs(student_cfg, teacher_cfg, pairs, message):
    with pytest.raises(ValueError, match=message):
        _build(student_cfg, teacher_cfg, stage_pairs=pairs)


def test_no_teacher_and_no_common_stride(student_cfg, teacher_cfg):
    with pytest.raises(ValueError, match='needs a teacher'):
        MODELS.build(dict(type='SSKDDistiller', student=student_cfg,
                          teacher_config=None))
    teacher_cfg.backbone.strides = (2, 2, 2, 2)  # strides 8..64
    teacher_cfg.backbone.out_indices = (3, )  # stride 64 only
    teacher_cfg.neck.in_channels = [256]
    teacher_cfg.neck.start_level = 0
    with pytest.raises(ValueError, match='no teacher backbone output'):
        _build(student_cfg, teacher_cfg)


def test_unsupported_student_backbone(student_cfg, teacher_cfg):
    student_cfg.backbone = dict(type='EfficientNet', arch='b0',
                                out_indices=(2, 3, 4))
    with pytest.raises(ValueError, match='cannot split the student backbone '
                       'EfficientNet into stages'):
        _build(student_cfg, teacher_cfg)
    assert backbone_stage_groups(
        MODELS.build(dict(type='MobileNetV2', out_indices=(2, 4))))[1] == [
            'layer4', 'layer5']


# -- COCO config --------------------------------------------------------------
def test_coco_config_builds_and_trains_a_mimic_and_a_task_step():
    cfg = Config.fromfile(osp.join(SSKD_CONFIGS,
                                   'sskd_retinanet_r101-r50_fpn_1x_coco.py'))
    assert cfg.model.teacher_ckpt.startswith('https://download.openmmlab')
    assert cfg.train_cfg.type == 'EpochBasedTrainLoop'
    hook = [h for h in cfg.custom_hooks if h.type == 'SSKDStageHook'][0]
    assert hook.by_epoch
    assert hook.stage_boundaries[-1] < cfg.train_cfg.max_epochs
    assert cfg.model_wrapper_cfg.find_unused_parameters
    # random weights: no pretrained backbones, no zoo teacher download (the
    # randomly initialised R101 stands in for the checkpoint)
    teacher_cfg = load_model_config(cfg.model.teacher_config)
    assert teacher_cfg.backbone.depth == 101
    teacher_cfg.backbone.init_cfg = None
    cfg.model.student.backbone.init_cfg = None
    cfg.model.teacher_config = teacher_cfg
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.student.init_weights()
    model.teacher_loaded = True
    assert model.stage_pairs == [(1, 1), (2, 2), (3, 3)]
    assert model.stage_strides == [8, 16, 32]
    optim = build_optim_wrapper(model, cfg.optim_wrapper)  # SGD, momentum
    backbone = model.student.backbone
    head = model.student.bbox_head
    for phase, learns, still in ((0, backbone.layer2, backbone.layer3),
                                 (3, head, backbone.layer2)):
        model.set_phase(phase)
        model.train()
        a = next(learns.parameters()).detach().clone()
        b = next(still.parameters()).detach().clone()
        log_vars = model.train_step(_data(size=96, num_classes=80), optim)
        assert torch.isfinite(log_vars['loss'])
        assert not torch.equal(a, next(learns.parameters()))
        assert torch.equal(b, next(still.parameters()))
