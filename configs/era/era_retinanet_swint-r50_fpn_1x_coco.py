# ERA on COCO, transformer teacher -> CNN student: RetinaNet Swin-T
# (teacher, mmdet's `swin/retinanet_swin-t-p4-w7_fpn_1x_coco.py`) ->
# RetinaNet R50 (student, 36.5 AP stock), 1x schedule. Both FPNs are 256-ch
# with P3-P7 (strides 8-128; the Swin FPN starts at Swin's stage 2), and both
# heads are mmdet's RetinaHead: TWI runs the teacher's head, and the student
# head starts from it, as in the R101 -> R50 config. The student is mmdet's
# config unchanged.
#
# TEACHER CHECKPOINT: mmdet 3.3 ships this Swin-T RetinaNet config without
# weights (no entry in its swin/ or retinanet/ metafile, no published AP), so
# teacher_ckpt below is a placeholder path: train the teacher first, e.g.
# python tools/train.py "$(python -c 'import mmdet, os.path as p;
# print(p.join(p.dirname(mmdet.__file__),
# ".mim/configs/swin/retinanet_swin-t-p4-w7_fpn_1x_coco.py"))')" \
#       --work-dir work_dirs/teacher_retinanet_swin-t_coco
#   cp work_dirs/teacher_retinanet_swin-t_coco/epoch_12.pth \
#      work_dirs/teacher_retinanet_swin-t_coco/teacher.pth
# or pass --cfg-options model.teacher_ckpt=/path/to/your/swin_t_retinanet.pth.
# Until then mmera's pre-flight check stops the run before any step with
# "teacher checkpoint (model.teacher_ckpt) not found: '<this path>'".
#   python tools/train.py configs/era/era_retinanet_swint-r50_fpn_1x_coco.py
# bash tools/dist_train.sh configs/era/era_retinanet_swint-r50_fpn_1x_coco.py
# 8
_base_ = [
    'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py',
    '../_base_/mmera_runtime.py',
]

teacher_ckpt = '{{ fileDirname }}/../../work_dirs/teacher_retinanet_swin-t_coco/teacher.pth'  # noqa: E501
model = dict(
    _delete_=True,
    type='ERADistiller',
    student={{_base_.model}},
    teacher_config='mmdet::swin/retinanet_swin-t-p4-w7_fpn_1x_coco.py',
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
    # both RetinaHeads are identical (256-ch, 80 classes): start from the
    # teacher's
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
