# ERA on COCO: YOLOv3 Darknet-53 (teacher, 33.7 AP at 608 px) -> YOLOv3
# MobileNetV2 (student, 22.2 AP stock at 320 px), mmdet's schedule (30
# epochs over the dataset repeated 10 times).
# The necks' levels differ in width: the teacher's YOLOV3Neck returns 512,
# 256 and 128 channels at strides 32, 16 and 8, the student's 96 at each, so
# MBRNet maps each level with its own width pair (its branches are shared
# by the levels whose pair agrees: none here). TWI runs the teacher's
# YOLOV3Head, which reads all three strides. The student is mmdet's config
# unchanged; the teacher is built from its mmdet config and the model-zoo
# checkpoint.
# python tools/train.py configs/era/era_yolov3_d53-mnv2_yolov3neck_300e_coco.py
# bash tools/dist_train.sh \
#   configs/era/era_yolov3_d53-mnv2_yolov3neck_300e_coco.py 8
_base_ = [
    'mmdet::yolo/yolov3_mobilenetv2_8xb24-320-300e_coco.py',
    '../_base_/mmera_runtime.py',
]

teacher_ckpt = 'https://download.openmmlab.com/mmdetection/v2.0/yolo/yolov3_d53_mstrain-608_273e_coco/yolov3_d53_mstrain-608_273e_coco_20210518_115020-a2c3acb8.pth'  # noqa: E501
model = dict(
    _delete_=True,
    type='ERADistiller',
    student={{_base_.model}},
    teacher_config='mmdet::yolo/yolov3_d53_8xb8-ms-608-273e_coco.py',
    teacher_ckpt=teacher_ckpt,
    # ERA's cheap setting (docs/cost.md): K=4 bottleneck branches, 1x1 ->
    # one 3x3 -> 1x1 at a quarter of the teacher's width, GN (detection
    # batch sizes are small)
    mbrnet=dict(
        num_branches=4,
        num_blocks=1,
        bottleneck_ratio=0.25,
        norm_cfg=dict(type='GN', num_groups=32, requires_grad=True),
        feature_norm='teacher_std'),
    mimic_weight=5.0,
    residual_weight=1.0,
    twi_weight=1.0,
    # one sampled approximation scored per step (weight x(K+1), unbiased);
    # 'all' scores all K+1 (head passes x(K+1))
    twi_mode='sampled',
    # the frozen TWI head in bf16 where the device runs bf16 natively
    twi_precision='auto',
    # the heads differ in width: the student head starts as mmdet's does
    init_student_head=False,
    inference_mode='S')
custom_hooks = [
    dict(type='DistillLossWarmupHook', warmup_iters=2000),
    dict(type='AlphaSweepHook', alphas=[0.0, 0.1, 0.3, 0.5, 1.0]),
    dict(type='ExportStudentHook', filename='student_final.pth'),
]

# mmera's checked dataset: the samples of mmdet's CocoDataset, with errors
# that name a missing, empty or corrupt file and the key to fix.
train_dataloader = dict(dataset=dict(dataset=dict(type='CheckedCocoDataset')))
val_dataloader = dict(dataset=dict(type='CheckedCocoDataset'))
test_dataloader = dict(dataset=dict(type='CheckedCocoDataset'))
