# ResKD on the synthetic set: tiny RetinaNet R34 x1/2 teacher -> R18 x1/4
# student (same 64-channel FPN and head) plus two res-students, ResNet-18 at
# 1/8 width with a 32-channel FPN projected to 64 channels. At 320x320 one
# res-student costs 0.11 GFLOPs against the student's 0.36 (backbone + neck)
# and 0.41 (one head pass): 'all' costs 1.00 G (+29% on the student's 0.78),
# and an image that goes one res-student deeper in 'adaptive' mode costs
# +0.52 G (a res-student and a head pass), so adaptive is the cheaper mode
# while under ~40% of the images go past depth 0 (benchmarks/reskd_cost.py
# measures it on the val set). The teacher checkpoint comes from
# make teachers DATA=synthetic   (= python -m benchmarks.train_teachers
# --data synthetic)
# which trains the tiny teacher and writes exactly the path below,
# work_dirs/teacher_synthetic/teacher.pth
# (`make demo` does the same; override with --cfg-options
# model.teacher_ckpt=...).
# data, schedule, runtime and the student
_base_ = '../tiny/retinanet_r18w16_fpn_500it_synthetic.py'
teacher = '{{ fileDirname }}/../tiny/retinanet_r34w32_fpn_3000it_synthetic.py'
res_student = dict(
    type='ResStudent',
    backbone=dict(
        type='ResNet',
        depth=18,
        base_channels=8,  # widths 8, 16, 32, 64
        out_indices=(0, 1, 2, 3),
        frozen_stages=-1,
        norm_eval=False,
        init_cfg=None),
    # levels, strides and the 64-channel output follow the student's FPN;
    # the 3x3 FPN convs run at 32 channels, a 1x1 conv projects to 64
    neck=dict(type='FPN', out_channels=32),
    zero_init_output=True)  # R_i = 0 when it joins: the head is undisturbed
model = dict(
    _delete_=True,
    type='ResKDDistiller',
    student={{_base_.model}},
    teacher_config=teacher,
    teacher_ckpt=('{{ fileDirname }}/../../work_dirs/teacher_synthetic/'
                  'teacher.pth'),
    res_student=res_student,
    # R_1 joins after the student has learnt for 150 iterations, R_2 at 300
    # (of 500): each learns the residual its predecessors leave
    res_student_start_iters=[150, 300],
    mimic_weight=1.0,
    residual_weight=1.0,
    feature_norm='teacher_std',
    det_weights=None,  # the mean of the detection losses on F_0..F_k
    skip_rule=dict(type='max_score', thr=0.5),
    inference_mode='adaptive')
# Res-students not yet joined are not run, so DDP would find parameters
# without gradients and stop; let it look for them.
model_wrapper_cfg = dict(
    type='MMDistributedDataParallel', find_unused_parameters=True)
custom_hooks = [
    dict(type='DistillLossWarmupHook', warmup_iters=50),
    # the base student (every res-student skipped) for stock mmdet; the full
    # sample-adaptive model is the distiller checkpoint itself
    dict(type='ExportStudentHook'),
]
