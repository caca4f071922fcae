# RKD on the real mini set: the ImageNet-MobileNetV2 RetinaNet teacher ->
# the from-scratch R18 x1/4 student (same 64-channel FPN and head, so no
# adapter). S and A are the two input-channel halves of the student's FPN
# output convs; S + A is the plain student's forward (see
# configs/rkd/rkd_retinanet_r34w32-r18w16_fpn_500it_synthetic.py).
# data, schedule, runtime and the student
_base_ = '../tiny/retinanet_r18w16_fpn_500it_deepforest.py'
teacher = '{{ fileDirname }}/../tiny/retinanet_mnv2_fpn_2000it_deepforest.py'
# The teacher checkpoint: `make teachers DATA=deepforest` writes exactly
# work_dirs/teacher_deepforest/teacher.pth (benchmarks/train_teachers.py).
model = dict(
    _delete_=True,
    type='RKDDistiller',
    student={{_base_.model}},
    teacher_config=teacher,
    teacher_ckpt=('{{ fileDirname }}/../../work_dirs/teacher_deepforest/'
                  'teacher.pth'),
    split_ratio=0.5,
    feature_norm='teacher_std',
    mimic_weight=5.0,
    residual_weight=5.0,
    adapter='auto')
custom_hooks = [
    dict(type='DistillLossWarmupHook', warmup_iters=50),
    dict(type='ExportStudentHook'),
]
