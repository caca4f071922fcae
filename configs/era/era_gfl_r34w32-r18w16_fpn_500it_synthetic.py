# ERA on the synthetic set: tiny GFL R34 x1/2 teacher -> R18 x1/4
# student (same 64-channel FPN and head).
# The teacher checkpoint comes from
#   make teachers DATA=synthetic DETECTORS=gfl
#   (= python -m benchmarks.train_teachers --data synthetic --detectors gfl)
# which trains the tiny teacher and writes exactly the path below,
# work_dirs/teacher_gfl_synthetic/teacher.pth: the teachers of the tiny
# configs live in work_dirs/teacher_<detector>_<data>/ (RetinaNet's, the
# first, in work_dirs/teacher_<data>/), see benchmarks/teachers.py.
# (python -m benchmarks --suites families does the same; override with
# --cfg-options
# model.teacher_ckpt=...).
# data, schedule, runtime and the student
_base_ = '../tiny/gfl_r18w16_fpn_500it_synthetic.py'
teacher = '{{ fileDirname }}/../tiny/gfl_r34w32_fpn_3000it_synthetic.py'
model = dict(
    _delete_=True,
    type='ERADistiller',
    student={{_base_.model}},
    teacher_config=teacher,
    teacher_ckpt=('{{ fileDirname }}/../../work_dirs/teacher_gfl_synthetic/'
                  'teacher.pth'),
    # every option of ERADistiller and MBRNet is stated, so the recorded
    # runs keep their meaning whatever the defaults become
    mbrnet=dict(
        num_branches=4,
        num_blocks=2,
        branch_scales=None,  # 1/k for branch k
        adapter='auto',
        norm_cfg=dict(type='GN', num_groups=32, requires_grad=True),
        act_cfg=dict(type='ReLU'),
        separable=False,
        bottleneck_channels=None,  # full width
        bottleneck_ratio=None,
        feature_norm='teacher_std',
        mimic_norm=None,
        init_cfg=dict(type='Normal', layer='Conv2d', std=0.01)),
    mimic_weight=5.0,
    residual_weight=1.0,
    twi_weight=1.0,
    twi_weights=None,  # 1 for M_0, branch_scales[k-1] / K for M_k
    twi_mode='all',
    twi_probability=1.0,
    twi_precision='fp32',
    twi_recompute=False,
    twi_detach_branches=False,
    init_student_head=False,
    inference_mode='S',
    alpha=0.5)
custom_hooks = [
    dict(type='DistillLossWarmupHook', warmup_iters=50),
    dict(type='AlphaSweepHook', alphas=[0.0, 0.3, 0.5, 1.0]),
    dict(type='ExportStudentHook'),
]
