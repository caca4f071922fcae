"""Single-stage instance segmentors as students, from mmdet's own COCO
configs (random weights, offline): their own losses (box and mask) from
features already extracted equal mmdet's ``loss``; the feature methods
train them with their mask loss; a method that runs the dense head alone
refuses them by name."""
import copy

import pytest
import torch
from coco_offline import coco_batch, offline, teacher_ckpt_writer
from mmdet.registry import MODELS
from mmengine.hub import get_config
from mmengine.registry import init_default_scope
from one_step import train_one_step

import mmera  # noqa: F401
from mmera.models.common.detector_losses import detector_kind, detector_losses

SOLO = 'mmdet::solo/solo_r18_fpn_8xb8-lsj-200e_coco.py'
CONDINST = 'mmdet::condinst/condinst_r50_fpn_ms-poly-90k_coco_instance.py'


def _model_cfg(config):
    """The config's model on an R18 backbone, SOLO's narrowed further (a
    64-wide neck and head, two convs a tower, coarser grids) to keep the
    test quick: the same heads, losses and assignment."""
    init_default_scope('mmdet')
    cfg = offline(get_config(config).model)
    cfg.backbone.depth = 18
    cfg.neck.in_channels = [64, 128, 256, 512]
    if cfg.mask_head.type == 'SOLOHead':
        cfg.neck.out_channels = 64
        cfg.mask_head.update(in_channels=64, feat_channels=64,
                             stacked_convs=2, num_grids=[12, 10, 8, 6, 4])
    return cfg


@pytest.fixture(scope='module')
def teacher_ckpt(tmp_path_factory):
    return teacher_ckpt_writer(tmp_path_factory)


@pytest.mark.parametrize('config', [SOLO, CONDINST])
def test_losses_from_features_equal_the_segmentors_own(config):
    torch.manual_seed(0)
    det = MODELS.build(_model_cfg(config))
    det.init_weights()
    det.train()
    batch = det.data_preprocessor(coco_batch(with_masks=True), True)
    inputs, samples = batch['inputs'], batch['data_samples']
    torch.manual_seed(1)
    own = det.loss(inputs, copy.deepcopy(samples))
    torch.manual_seed(1)
    ours = detector_losses(det, det.extract_feat(inputs),
                           copy.deepcopy(samples))
    assert detector_kind(det) == 'instance_seg'
    assert own.keys() == ours.keys() and any('mask' in k for k in own)
    for key in own:
        a, b = own[key], ours[key]
        a, b = (a, b) if isinstance(a, list) else ([a], [b])
        assert all(torch.equal(x, y) for x, y in zip(a, b)), key


# SOLO's own losses are checked above; its mask targets make a training
# step slow, so the methods train the (quicker) CondInst student
@pytest.mark.parametrize('method', ['FitNetDistiller', 'PKDDistiller'])
def test_feature_methods_train_the_mask_head(method, teacher_ckpt):
    student = _model_cfg(CONDINST)
    model = MODELS.build(dict(type=method, student=student,
                              teacher_config=copy.deepcopy(student),
                              teacher_ckpt=teacher_ckpt(student)))
    model.init_weights()
    mask_head = {k: v.clone()
                 for k, v in model.student.mask_head.state_dict().items()}
    log_vars = train_one_step(model, coco_batch(with_masks=True))
    assert any(k.startswith('loss_mask') for k in log_vars)
    after = model.student.mask_head.state_dict()
    assert any(not torch.equal(v, after[k]) for k, v in mask_head.items())


def test_a_dense_head_method_refuses_a_segmentor_by_name():
    student = _model_cfg(CONDINST)
    with pytest.raises(ValueError, match=r'ResKDDistiller: the student '
                       r'\(CondInst\) is an instance segmentor, whose mask '
                       r'head .* FitNet, PKD or ERA'):
        MODELS.build(dict(type='ResKDDistiller', student=student,
                          teacher_config=copy.deepcopy(student)))
