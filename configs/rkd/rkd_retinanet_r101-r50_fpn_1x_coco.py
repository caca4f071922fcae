# RKD on COCO: RetinaNet R101 (teacher, 38.5 AP) -> RetinaNet R50 (student,
# 36.5 AP stock), 1x schedule. The student is mmdet's config unchanged; both
# FPNs have 256 channels, so there is no adapter. Each student FPN output
# conv (256 -> 256, 3x3) is split along its input channels: channels 0-127
# give S (mimics the teacher), 128-255 give A (learns T - S); the head sees
# S + A, exactly the plain R50 forward: same parameters, same FLOPs, and the
# exported student is a stock mmdet RetinaNet R50 checkpoint.
#   python tools/train.py configs/rkd/rkd_retinanet_r101-r50_fpn_1x_coco.py
# bash tools/dist_train.sh configs/rkd/rkd_retinanet_r101-r50_fpn_1x_coco.py
# 8
# python -m benchmarks.rkd_cost
# configs/rkd/rkd_retinanet_r101-r50_fpn_1x_coco.py
_base_ = [
    'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py',
    '../_base_/mmera_runtime.py',
]

teacher_ckpt = 'https://download.openmmlab.com/mmdetection/v2.0/retinanet/retinanet_r101_fpn_1x_coco/retinanet_r101_fpn_1x_coco_20200130-7a93545f.pth'  # noqa: E501
model = dict(
    _delete_=True,
    type='RKDDistiller',
    student={{_base_.model}},
    teacher_config='mmdet::retinanet/retinanet_r101_fpn_1x_coco.py',
    teacher_ckpt=teacher_ckpt,
    split_ratio=0.5,
    # both losses divided by the teacher level's variance (scale-free across
    # FPN levels), weighted as ERA's mimic loss
    feature_norm='teacher_std',
    mimic_weight=5.0,
    residual_weight=5.0,
    adapter='auto')

custom_hooks = [
    dict(type='DistillLossWarmupHook', warmup_iters=1000),
    dict(type='ExportStudentHook', filename='student_final.pth'),
]

# mmera's checked dataset: the samples of mmdet's CocoDataset, with errors
# that name a missing, empty or corrupt file and the key to fix.
train_dataloader = dict(dataset=dict(type='CheckedCocoDataset'))
val_dataloader = dict(dataset=dict(type='CheckedCocoDataset'))
test_dataloader = dict(dataset=dict(type='CheckedCocoDataset'))
