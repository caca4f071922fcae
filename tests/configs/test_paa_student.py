"""mmdet's PAA as a student, offline: its loss fits a Gaussian mixture with
scikit-learn (a dependency of the stack for it); one PKD step on two 160 px
images gives finite losses, changes the student and leaves the teacher
untouched."""
import torch
from coco_offline import coco_batch, offline, teacher_ckpt_writer
from mmdet.registry import MODELS
from mmdet.utils import register_all_modules
from mmengine.hub import get_config
from one_step import train_one_step

import mmera  # noqa: F401

PAA = 'mmdet::paa/paa_r50_fpn_1x_coco.py'


def test_paa_student_trains_a_pkd_step(tmp_path_factory):
    register_all_modules()
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='PKDDistiller', student=offline(get_config(PAA).model),
        teacher_config=PAA,
        teacher_ckpt=teacher_ckpt_writer(tmp_path_factory)(PAA)))
    model.init_weights()
    log_vars = train_one_step(model, coco_batch())
    assert torch.isfinite(log_vars['pkd.loss_feat'])
    assert 'loss_cls' in log_vars and 'loss_bbox' in log_vars
