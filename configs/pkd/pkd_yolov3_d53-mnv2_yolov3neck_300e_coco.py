# PKD on COCO: YOLOv3 Darknet-53 (teacher, 33.7 AP at 608 px) -> YOLOv3
# MobileNetV2 (student, 22.2 AP stock at 320 px), mmdet's schedule (30
# epochs over the dataset repeated 10 times).
# Pearson-correlation imitation of the three YOLOV3Neck outputs (strides 32,
# 16, 8), weight 6 per level; the teacher's levels are 512, 256 and 128 wide,
# the student's 96, so each level has its own 1x1 adapter. The student is
# mmdet's config unchanged; the teacher is built from its mmdet config and
# the model-zoo checkpoint.
# python tools/train.py configs/pkd/pkd_yolov3_d53-mnv2_yolov3neck_300e_coco.py
_base_ = [
    'mmdet::yolo/yolov3_mobilenetv2_8xb24-320-300e_coco.py',
    '../_base_/mmera_runtime.py',
]

teacher_ckpt = 'https://download.openmmlab.com/mmdetection/v2.0/yolo/yolov3_d53_mstrain-608_273e_coco/yolov3_d53_mstrain-608_273e_coco_20210518_115020-a2c3acb8.pth'  # noqa: E501
model = dict(
    _delete_=True,
    type='PKDDistiller',
    student={{_base_.model}},
    teacher_config='mmdet::yolo/yolov3_d53_8xb8-ms-608-273e_coco.py',
    teacher_ckpt=teacher_ckpt,
    distill_loss=dict(type='PearsonFeatureLoss', loss_weight=6.0),
    adapter='auto',  # a 1x1 conv per level: the widths differ
    levels=None)  # all 3 levels
custom_hooks = [dict(type='ExportStudentHook', filename='student_final.pth')]

# mmera's checked dataset: the samples of mmdet's CocoDataset, with errors
# that name a missing, empty or corrupt file and the key to fix.
train_dataloader = dict(dataset=dict(dataset=dict(type='CheckedCocoDataset')))
val_dataloader = dict(dataset=dict(type='CheckedCocoDataset'))
test_dataloader = dict(dataset=dict(type='CheckedCocoDataset'))
