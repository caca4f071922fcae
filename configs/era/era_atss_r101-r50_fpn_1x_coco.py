# ERA on COCO: ATSS R101 (teacher, 41.5 AP) -> ATSS R50 (student, 39.4 AP
# stock), 1x schedule. The student is mmdet's config unchanged; the teacher is
# built from its mmdet config and the model-zoo checkpoint.
#   python tools/train.py configs/era/era_atss_r101-r50_fpn_1x_coco.py
#   bash tools/dist_train.sh configs/era/era_atss_r101-r50_fpn_1x_coco.py 8
_base_ = [
    'mmdet::atss/atss_r50_fpn_1x_coco.py',
    '../_base_/mmera_runtime.py',
]

teacher_ckpt = 'https://download.openmmlab.com/mmdetection/v2.0/atss/atss_r101_fpn_1x_coco/atss_r101_fpn_1x_20200825-dfcadd6f.pth'  # noqa: E501
model = dict(
    _delete_=True,
    type='ERADistiller',
    student={{_base_.model}},
    teacher_config='mmdet::atss/atss_r101_fpn_1x_coco.py',
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
    # R101 and R50 ATSS heads are identical: start from the teacher's
    init_student_head=True,
    inference_mode='S')

custom_hooks = [
    dict(type='DistillLossWarmupHook', warmup_iters=1000),
    # ST-mode COCO AP for each alpha after every validation
    dict(type='AlphaSweepHook', alphas=[0.0, 0.1, 0.3, 0.5, 1.0]),
    dict(type='ExportStudentHook', filename='student_final.pth'),
]

# mmera's checked dataset: the samples of mmdet's CocoDataset, with errors
# that name a missing, empty or corrupt file and the key to fix.
train_dataloader = dict(dataset=dict(type='CheckedCocoDataset'))
val_dataloader = dict(dataset=dict(type='CheckedCocoDataset'))
test_dataloader = dict(dataset=dict(type='CheckedCocoDataset'))
