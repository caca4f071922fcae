"""TridentNet, from mmdet's own COCO config (random weights, offline): as a
student its features hold one copy of the batch per branch, so feature
methods refuse it by name; as a teacher (one branch at eval) it distils into
a Faster R-CNN student."""
import copy

import pytest
import torch
from coco_offline import coco_batch, offline
from mmdet.registry import MODELS
from mmengine.hub import get_config
from mmengine.registry import init_default_scope
from one_step import train_one_step
from torch import nn

import mmera  # noqa: F401
from mmera.analysis.offline import (
    init_checkpoint_only_weights,
    strip_pretrained,
)

TRIDENT = 'mmdet::tridentnet/tridentnet_r50-caffe_1x_coco.py'
FASTER = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'


def _model(config):
    init_default_scope('mmdet')
    # the RoI head's shared ResLayer has an ImageNet init of its own
    return strip_pretrained(offline(get_config(config).model))


def _r18_student():
    """mmdet's Faster R-CNN on an R18 backbone: a quicker student, the
    same detector."""
    student = _model(FASTER)
    student.backbone.depth = 18
    student.neck.in_channels = [64, 128, 256, 512]
    return student


@pytest.mark.parametrize('method', ['FitNetDistiller', 'ERADistiller',
                                    'SSKDDistiller'])
def test_a_trident_student_is_refused_by_name(method):
    student = _model(TRIDENT)
    with pytest.raises(ValueError, match=rf'{method}: the student '
                       r'\(TridentFasterRCNN\) runs each training image '
                       r'through its 3 backbone branches.*single-branch'):
        MODELS.build(dict(type=method, student=student,
                          teacher_config=copy.deepcopy(student)))


def _calibrated_ckpt(model_cfg, path) -> str:
    """A random-weight checkpoint whose frozen BN statistics are those of
    the test batch: at mmdet's init with unit statistics, TridentNet's 50
    caffe-style layers overflow to NaN, which a trained teacher never
    does.

    mmdet's ``TridentConv`` allocates its weight uninitialised for the
    ImageNet checkpoint to fill; with that init stripped it would hold
    whatever the memory last held (NaN after some earlier tests), so
    :func:`init_checkpoint_only_weights` initialises it.
    """
    torch.manual_seed(0)
    model = MODELS.build(model_cfg)
    model.init_weights()
    init_checkpoint_only_weights(model)
    model.eval()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None  # a cumulative average over the forwards
            m.train()
    batch = model.data_preprocessor(coco_batch(), False)
    with torch.no_grad():
        model.extract_feat(batch['inputs'])
    assert all(v.isfinite().all() for v in model.state_dict().values()
               if v.is_floating_point())
    torch.save(dict(state_dict=model.state_dict()), str(path))
    return str(path)


def test_a_trident_teacher_distils_into_faster_rcnn(tmp_path):
    teacher = _model(TRIDENT)
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='PKDDistiller', student=_r18_student(), teacher_config=teacher,
        teacher_ckpt=_calibrated_ckpt(copy.deepcopy(teacher),
                                      tmp_path / 'teacher.pth')))
    torch.manual_seed(0)
    model.init_weights()
    assert model.pairing.strides == (16, )  # the trident stage's one map
    log_vars = train_one_step(model, coco_batch())
    assert 'pkd.loss_feat' in log_vars and 'loss_rpn_cls' in log_vars
