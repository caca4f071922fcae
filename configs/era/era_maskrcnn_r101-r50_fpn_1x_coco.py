# ERA on COCO, two-stage: Mask R-CNN R101 (teacher, 40.0 box / 36.1 mask AP) ->
# Mask R-CNN R50 (student, 38.2 / 34.7 stock), 1x schedule. MBRNet
# approximates the teacher's
# FPN (P2-P6); TWI scores the K+1 approximations with frozen copies of the
# teacher's RPN head (anchors assigned once) and RoI box head (ONE set of RoIs
# sampled from the student's proposals per step, shared by every
# approximation, one box-head pass). The student is mmdet's config unchanged:
# its own RPN and RoI losses come from the features the distiller extracts
# once.
# The student keeps its mask loss; TWI scores the box branch only (the
# teacher's mask head is not used).
#   python tools/train.py configs/era/era_maskrcnn_r101-r50_fpn_1x_coco.py
#   bash tools/dist_train.sh configs/era/era_maskrcnn_r101-r50_fpn_1x_coco.py 8
_base_ = [
    'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py',
    '../_base_/mmera_runtime.py',
]

teacher_ckpt = 'https://download.openmmlab.com/mmdetection/v2.0/mask_rcnn/mask_rcnn_r101_fpn_1x_coco/mask_rcnn_r101_fpn_1x_coco_20200204-1efe0ed5.pth'  # noqa: E501
model = dict(
    _delete_=True,
    type='ERADistiller',
    student={{_base_.model}},
    teacher_config='mmdet::mask_rcnn/mask-rcnn_r101_fpn_1x_coco.py',
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
    # 'all' scores all K+1 (RPN + box-head passes x(K+1))
    twi_mode='sampled',
    # the frozen TWI head in bf16 where the device runs bf16 natively
    twi_precision='auto',
    # (init_student_head copies a dense head; two-stage heads start as mmdet's)
    init_student_head=False,
    inference_mode='S')

custom_hooks = [
    dict(type='DistillLossWarmupHook', warmup_iters=1000),
    dict(type='ExportStudentHook', filename='student_final.pth'),
]

# mmera's checked dataset: the samples of mmdet's CocoDataset, with errors
# that name a missing, empty or corrupt file and the key to fix.
train_dataloader = dict(dataset=dict(type='CheckedCocoDataset'))
val_dataloader = dict(dataset=dict(type='CheckedCocoDataset'))
test_dataloader = dict(dataset=dict(type='CheckedCocoDataset'))
