# ResKD on COCO: RetinaNet R101 (teacher, 38.5 AP) -> RetinaNet R50 (student,
# 36.5 AP stock) plus two res-students, 1x schedule. The student is mmdet's
# config unchanged; the teacher is built from its mmdet config and the
# model-zoo checkpoint.
#   python tools/train.py configs/reskd/reskd_retinanet_r101-r50_fpn_1x_coco.py
# bash tools/dist_train.sh
# configs/reskd/reskd_retinanet_r101-r50_fpn_1x_coco.py 8
_base_ = [
    'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py',
    '../_base_/mmera_runtime.py',
]

teacher_ckpt = 'https://download.openmmlab.com/mmdetection/v2.0/retinanet/retinanet_r101_fpn_1x_coco/retinanet_r101_fpn_1x_coco_20200130-7a93545f.pth'  # noqa: E501
# Each res-student: ResNet-18 at 1/4 width (widths 16..128, from scratch) and
# a 64-channel FPN projected by 1x1 convs to the student's 256 channels.
# FLOPs at 800x1344 (benchmarks/reskd_cost.py): 4.2 G each, against
# 106 G for the R50 backbone + FPN and 145 G for one RetinaHead pass, i.e.
# +1.7% of the student per res-student. A 256-channel FPN would cost more
# than the backbone (its 3x3 convs at stride 8 alone are ~10 G); full-width
# R18 would be ~40 G, no longer "much lighter".
res_student = dict(
    type='ResStudent',
    backbone=dict(
        type='ResNet',
        depth=18,
        base_channels=16,
        out_indices=(0, 1, 2, 3),
        frozen_stages=-1,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=False,
        init_cfg=None),
    neck=dict(type='FPN', out_channels=64),
    zero_init_output=True)  # R_i = 0 when it joins: the head is undisturbed
model = dict(
    _delete_=True,
    type='ResKDDistiller',
    student={{_base_.model}},
    teacher_config='mmdet::retinanet/retinanet_r101_fpn_1x_coco.py',
    teacher_ckpt=teacher_ckpt,
    res_student=res_student,
    # 7330 iterations per epoch at 16 images per iteration: R_1 joins after
    # epoch 3, R_2 after epoch 6, so each trains >= 2 epochs before the
    # learning-rate steps at epochs 8 and 11. Scale with the batch size.
    res_student_start_iters=[21990, 43980],
    mimic_weight=1.0,
    residual_weight=1.0,
    feature_norm='teacher_std',
    det_weights=None,  # the mean of the detection losses on F_0..F_k
    skip_rule=dict(type='max_score', thr=0.5),
    # 'all' (F_2 and one head pass: 259 G, +3.3%) rather than 'adaptive':
    # deciding to go deeper costs one more head pass (145 G), 35x a
    # res-student (4.2 G), so adaptive inference is cheaper than 'all' only
    # when under ~6% of the images go past depth 0 (~3% if they go on to
    # depth 2). Compare both with
    #   tools/test.py ... --cfg-options model.inference_mode=adaptive
    #   benchmarks/reskd_cost.py CONFIG CKPT --val --shape 800 1344
    inference_mode='all')
# Res-students not yet joined are not run, so DDP would find parameters
# without gradients and stop; let it look for them.
model_wrapper_cfg = dict(
    type='MMDistributedDataParallel', find_unused_parameters=True)

custom_hooks = [
    dict(type='DistillLossWarmupHook', warmup_iters=1000),
    # the base student (every res-student skipped) for stock mmdet; the full
    # ResKD model is the distiller checkpoint itself
    dict(type='ExportStudentHook', filename='student_final.pth'),
]

# mmera's checked dataset: the samples of mmdet's CocoDataset, with errors
# that name a missing, empty or corrupt file and the key to fix.
train_dataloader = dict(dataset=dict(type='CheckedCocoDataset'))
val_dataloader = dict(dataset=dict(type='CheckedCocoDataset'))
test_dataloader = dict(dataset=dict(type='CheckedCocoDataset'))
