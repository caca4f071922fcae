"""A student config's own hooks under a distiller, over a whole schedule.

mmdet's zoo configs declare hooks that act on the model at given epochs:
YOLOX's ``YOLOXModeSwitchHook`` closes the mosaic and turns on the L1 box
loss of ``model.bbox_head`` for the last epochs, RTMDet's
``PipelineSwitchHook`` switches the training pipeline, both average the
weights with ``EMAHook``. Each pair below is mmdet's own config (student and
teacher, random weights, nothing downloads), with the schedule shortened to
two epochs on a tiny synthetic set so that every switch point is reached,
trained through a real runner for ERA and PKD. ``MeanTeacherHook``, which
would copy the student into the distillation teacher, is refused before the
first step.
"""
import copy
import glob
import os.path as osp
import re

import mmdet
import pytest
import torch
from mmdet.registry import MODELS
from mmdet.utils import register_all_modules
from mmengine.config import Config
from mmengine.registry import RUNNERS

import mmera  # noqa: F401

ZOO = osp.join(osp.dirname(mmdet.__file__), '.mim', 'configs')
CLASSES = ('circle', 'square', 'triangle', 'cross', 'ring')
SIZE = (96, 96)
EPOCHS = 2
#: student config, teacher config (mmdet's zoo)
PAIRS = {
    'yolox': ('yolox/yolox_tiny_8xb8-300e_coco.py',
              'yolox/yolox_s_8xb8-300e_coco.py'),
    'rtmdet': ('rtmdet/rtmdet_tiny_8xb32-300e_coco.py',
               'rtmdet/rtmdet_s_8xb32-300e_coco.py'),
}
#: hooks other zoo configs declare, added to every run here
EXTRA_HOOKS = [dict(type='NumClassCheckHook'),
               dict(type='CheckInvalidLossHook', interval=1),
               dict(type='SyncBuffersHook')]
#: what the zoo's hooks are, and where this file covers them
COVERED = {'YOLOXModeSwitchHook', 'SyncNormHook', 'EMAHook',
           'PipelineSwitchHook'} | {h['type'] for h in EXTRA_HOOKS}
#: run in every run (mmengine's and mmdet's default hooks)
DEFAULT = {'IterTimerHook', 'LoggerHook', 'ParamSchedulerHook',
           'CheckpointHook', 'DistSamplerSeedHook', 'DetVisualizationHook'}
REFUSED = {'MeanTeacherHook'}
#: the tracking and grounding folders' visualisers (no detector pairs)
EXCLUDED = {'TrackVisualizationHook', 'GroundingVisualizationHook'}


def test_every_hook_of_the_zoo_is_covered():
    declared = set()
    for path in glob.glob(osp.join(ZOO, '**', '*.py'), recursive=True):
        with open(path) as f:
            declared |= set(re.findall(r"type=['\"](\w+Hook)['\"]", f.read()))
    assert declared, 'no zoo hooks found'
    assert declared <= COVERED | DEFAULT | REFUSED | EXCLUDED, (
        declared - COVERED - DEFAULT - REFUSED - EXCLUDED)


def _shrink(obj):
    """Every image size of a config at :data:`SIZE` (in place)."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key in ('img_scale', 'scale') and isinstance(
                    value, (tuple, list)) and len(value) == 2:
                obj[key] = SIZE
            elif key == 'border':  # RandomAffine's, -img_scale / 2
                obj[key] = (-SIZE[0] // 2, -SIZE[1] // 2)
            elif key == 'random_size_range':  # YOLOX's batch resize
                obj[key] = (64, 128)
            else:
                _shrink(value)
    elif isinstance(obj, list):
        for value in obj:
            _shrink(value)


def _offline(model: dict) -> dict:
    """The zoo model on the tiny set's classes, random backbone weights."""
    model = copy.deepcopy(model)
    model['backbone']['init_cfg'] = None
    model['bbox_head']['num_classes'] = len(CLASSES)
    return model


def _on_tiny_set(dataset: dict, root: str, split: str) -> None:
    if dataset['type'] == 'MultiImageMixDataset':  # YOLOX's mosaic wrapper
        dataset = dataset['dataset']
    dataset.update(type='CocoDataset', data_root=root,
                   ann_file=f'annotations/instances_{split}.json',
                   data_prefix=dict(img=f'{split}/'),
                   metainfo=dict(classes=CLASSES), indices=4)


@pytest.fixture(scope='module')
def teacher_ckpts(tmp_path_factory):
    """A random-weight checkpoint of each pair's teacher."""
    register_all_modules()
    ckpts = {}
    for family, (_, teacher) in PAIRS.items():
        torch.manual_seed(0)
        model = MODELS.build(
            _offline(Config.fromfile(osp.join(ZOO, teacher)).model))
        model.init_weights()
        path = tmp_path_factory.mktemp('teacher') / f'{family}.pth'
        torch.save(dict(state_dict=model.state_dict()), path)
        ckpts[family] = str(path)
    return ckpts


def _run_config(family, method, teacher_ckpt, root, work_dir, hooks=()):
    student, teacher = PAIRS[family]
    cfg = Config.fromfile(osp.join(ZOO, student)).to_dict()
    _shrink(cfg)
    cfg['model'] = dict(
        type=method, student=_offline(cfg['model']),
        teacher_config=_offline(
            Config.fromfile(osp.join(ZOO, teacher)).model.to_dict()),
        teacher_ckpt=teacher_ckpt)
    _on_tiny_set(cfg['train_dataloader']['dataset'], root, 'train')
    _on_tiny_set(cfg['val_dataloader']['dataset'], root, 'val')
    for loader in ('train_dataloader', 'val_dataloader'):
        cfg[loader].update(batch_size=2, num_workers=0,
                           persistent_workers=False)
    cfg['test_dataloader'] = cfg['val_dataloader']
    cfg['val_evaluator'] = cfg['test_evaluator'] = dict(
        type='CocoMetric', metric='bbox',
        ann_file=osp.join(root, 'annotations', 'instances_val.json'))
    cfg['train_cfg'] = dict(type='EpochBasedTrainLoop', max_epochs=EPOCHS,
                            val_interval=EPOCHS)
    cfg['param_scheduler'] = [dict(type='ConstantLR', factor=1.0)]
    cfg['optim_wrapper']['optimizer']['lr'] = 1e-3
    cfg['auto_scale_lr'] = dict(enable=False, base_batch_size=2)
    for hook in cfg['custom_hooks']:  # the switch points, in the schedule
        if hook['type'] == 'YOLOXModeSwitchHook':
            hook['num_last_epochs'] = 1
        if hook['type'] == 'PipelineSwitchHook':
            hook['switch_epoch'] = EPOCHS - 1
    cfg['custom_hooks'] += [*EXTRA_HOOKS, *hooks]
    cfg['default_hooks']['logger']['interval'] = 1
    cfg['default_hooks']['checkpoint'] = dict(type='CheckpointHook',
                                              interval=EPOCHS)
    cfg.update(work_dir=str(work_dir), launcher='none',
               runner_type='mmdet.MMERARunner')
    return Config(cfg)


def _teacher_state(runner):
    return {k: v.clone() for k, v in runner.model.teacher.state_dict().items()}


@pytest.mark.parametrize('method', ['ERADistiller', 'PKDDistiller'])
@pytest.mark.parametrize('family', list(PAIRS))
def test_the_student_configs_hooks_act_on_the_student(
        family, method, teacher_ckpts, synthetic_root, tmp_path, one_thread):
    cfg = _run_config(family, method, teacher_ckpts[family],
                      synthetic_root, tmp_path)
    runner = RUNNERS.build(cfg)  # as tools/train.py: MMERARunner
    runner.train()
    model = runner.model
    assert runner.epoch == EPOCHS
    teacher = torch.load(teacher_ckpts[family])['state_dict']
    assert all(torch.equal(v, teacher[k])
               for k, v in model.teacher.state_dict().items())
    if family == 'yolox':  # the last epoch trains with the L1 box loss
        assert model.student.bbox_head.use_l1 is True
        if method == 'ERADistiller':  # and so does TWI's copy of the head
            assert model.twi.head.use_l1 is True
        logged = runner.message_hub.log_scalars
        assert 'train/loss_l1' in logged
    else:  # RTMDet's last epoch trains on the switched pipeline
        types = [type(t).__name__
                 for t in runner.train_dataloader.dataset.pipeline.transforms]
        assert 'CachedMosaic' not in types, types
    # EMAHook averaged the trained modules; the teacher is shared, not copied
    ckpt = torch.load(osp.join(tmp_path, f'epoch_{EPOCHS}.pth'),
                      weights_only=False)
    ema = ckpt['ema_state_dict']
    assert any(k.startswith('module.student.') for k in ema)
    assert not any(k.startswith('module.teacher.') for k in ema)
    ema_model = [h for h in runner.hooks
                 if type(h).__name__ == 'EMAHook'][0].ema_model
    assert ema_model.module.teacher is model.teacher


def test_mean_teacher_hook_is_refused_before_training(
        teacher_ckpts, synthetic_root, tmp_path, one_thread):
    cfg = _run_config('rtmdet', 'PKDDistiller', teacher_ckpts['rtmdet'],
                      synthetic_root, tmp_path,
                      hooks=[dict(type='MeanTeacherHook')])
    runner = RUNNERS.build(cfg)  # as tools/train.py: MMERARunner
    with pytest.raises(ValueError, match='MeanTeacherHook would copy the '
                       r"student's weights into the distillation teacher"):
        runner.train()
    assert runner.iter == 0
