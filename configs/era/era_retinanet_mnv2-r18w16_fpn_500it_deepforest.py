# ERA on the real mini set: the ImageNet-MobileNetV2 RetinaNet teacher ->
# the from-scratch R18 x1/4 student (same 64-channel FPN and head).
# data, schedule, runtime and the student
_base_ = '../tiny/retinanet_r18w16_fpn_500it_deepforest.py'
teacher = '{{ fileDirname }}/../tiny/retinanet_mnv2_fpn_2000it_deepforest.py'
# The teacher checkpoint: `make teachers DATA=deepforest` writes exactly
# work_dirs/teacher_deepforest/teacher.pth (benchmarks/train_teachers.py).
model = dict(
    _delete_=True,
    type='ERADistiller',
    student={{_base_.model}},
    teacher_config=teacher,
    teacher_ckpt=('{{ fileDirname }}/../../work_dirs/teacher_deepforest/'
                  'teacher.pth'),
    mbrnet=dict(num_branches=4, num_blocks=2, feature_norm='teacher_std'),
    mimic_weight=5.0,
    residual_weight=1.0,
    twi_weight=1.0,
    twi_mode='all',
    init_student_head=False,
    inference_mode='S')
custom_hooks = [
    dict(type='DistillLossWarmupHook', warmup_iters=50),
    dict(type='AlphaSweepHook', alphas=[0.0, 0.3, 0.5, 1.0]),
    dict(type='ExportStudentHook'),
]
