# ERA's cheap setting (era-fast) on the synthetic set at 192 px on the plain
# student's 8000-iteration schedule (configs/tiny/retinanet_r18w16_fpn_
# 8000it_synthetic-192.py: the same shape as 500 iterations, stretched): tiny
# RetinaNet R34 x1/2 teacher -> R18 x1/4 student. Every option of
# ERADistiller and MBRNet is stated here, so the run keeps its meaning
# whatever the defaults become.
# The teacher: the tiny RetinaNet teacher at 192 px trained for 32000
# iterations, as long as the longest plain student of the study
# (python -m benchmarks.train_teachers --detectors retinanet-32000it-192).
# data, schedule, runtime and the student
_base_ = '../tiny/retinanet_r18w16_fpn_8000it_synthetic-192.py'
teacher = ('{{ fileDirname }}/../tiny/retinanet_r34w32_fpn_32000it_'
           'synthetic-192.py')
model = dict(
    _delete_=True,
    type='ERADistiller',
    student={{_base_.model}},
    teacher_config=teacher,
    teacher_ckpt=('{{ fileDirname }}/../../work_dirs/'
                  'teacher_retinanet-32000it-192_synthetic/teacher.pth'),
    mbrnet=dict(
        num_branches=4,
        num_blocks=1,
        branch_scales=None,  # 1/k for branch k
        adapter='auto',
        norm_cfg=dict(type='GN', num_groups=32, requires_grad=True),
        act_cfg=dict(type='ReLU'),
        separable=False,
        bottleneck_channels=16,  # a quarter of the 64-channel neck
        bottleneck_ratio=None,
        feature_norm='teacher_std',
        mimic_norm=None,
        init_cfg=dict(type='Normal', layer='Conv2d', std=0.01)),
    mimic_weight=5.0,
    residual_weight=1.0,
    twi_weight=1.0,
    twi_weights=None,  # one weight per pass, all equal
    twi_mode='sampled',
    twi_probability=1.0,
    twi_precision='bf16',
    twi_recompute=False,
    twi_detach_branches=False,
    init_student_head=False,
    inference_mode='S',
    alpha=0.5)
custom_hooks = [
    # the distillation losses ramp up over the learning rate's warm-up
    dict(type='DistillLossWarmupHook', warmup_iters=800),
    dict(type='AlphaSweepHook', alphas=[0.0, 0.3, 0.5, 1.0]),
    dict(type='ExportStudentHook'),
]
