# LD (Localization Distillation) on COCO with mmdet's own detector
# (KnowledgeDistillationSingleStageDetector with LDHead, as mmdet's
# configs/ld/ld_r18-gflv1-r101_fpn_1x_coco.py): GFL R101 (teacher,
# multi-scale 2x, 44.7 AP, zoo checkpoint) -> GFL R50 (student, 40.2 AP
# stock), 1x. The student, schedule and data are mmdet's
# gfl/gfl_r50_fpn_1x_coco.py; only the head becomes an LDHead (mmdet's
# loss_ld: KL of the box-side distributions, T = 10, weight 0.25).
#   python tools/train.py configs/ld/ld_gfl_r101-r50_fpn_1x_coco.py
#   bash tools/dist_train.sh configs/ld/ld_gfl_r101-r50_fpn_1x_coco.py 8
# mmdet's detector builds its teacher from teacher_config with
# Config.fromfile, which does not resolve "mmdet::" paths, so the teacher
# is given as a config dict: the model of mmdet::gfl/gfl_r101_fpn_ms-2x_coco.py
# (= gfl_r50_fpn_1x_coco.py's model with a ResNet-101; the test checks the
# two are equal). It loads teacher_ckpt in its __init__, so building this
# model (tools/test.py too) downloads the teacher.
_base_ = [
    'mmdet::gfl/gfl_r50_fpn_1x_coco.py',
    '../_base_/mmera_runtime.py',
]

teacher_ckpt = 'https://download.openmmlab.com/mmdetection/v2.0/gfl/gfl_r101_fpn_mstrain_2x_coco/gfl_r101_fpn_mstrain_2x_coco_20200629_200126-dd12f847.pth'  # noqa: E501
teacher_model = dict(
    type='GFL',
    data_preprocessor={{_base_.model.data_preprocessor}},
    backbone=dict(
        type='ResNet',
        depth=101,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        frozen_stages=1,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=True,
        style='pytorch',
        # as mmdet's config; never used: the teacher is not initialised,
        # its weights come from teacher_ckpt
        init_cfg=dict(type='Pretrained',
                      checkpoint='torchvision://resnet101')),
    neck={{_base_.model.neck}},
    bbox_head={{_base_.model.bbox_head}},
    train_cfg={{_base_.model.train_cfg}},
    test_cfg={{_base_.model.test_cfg}})
model = dict(
    type='KnowledgeDistillationSingleStageDetector',
    teacher_config=dict(model=teacher_model),
    teacher_ckpt=teacher_ckpt,
    bbox_head=dict(
        type='LDHead',
        loss_ld=dict(
            type='KnowledgeDistillationKLDivLoss', loss_weight=0.25, T=10)))

# mmera's checked dataset: the samples of mmdet's CocoDataset, with errors
# that name a missing, empty or corrupt file and the key to fix.
train_dataloader = dict(dataset=dict(type='CheckedCocoDataset'))
val_dataloader = dict(dataset=dict(type='CheckedCocoDataset'))
test_dataloader = dict(dataset=dict(type='CheckedCocoDataset'))
