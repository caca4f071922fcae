# ERA on the synthetic set: tiny Faster R-CNN R34 x1/2 teacher -> R18 x1/4
# student (same 64-channel FPN, RPN and RoI head; strides 4..64). The
# student keeps its whole own loss (RPN + RoI head). The teacher checkpoint
# comes from
#   make teachers DATA=synthetic DETECTORS=fasterrcnn
# (= python -m benchmarks.train_teachers --data synthetic --detectors
# fasterrcnn)
# which trains the tiny teacher and writes exactly the path below,
# work_dirs/teacher_fasterrcnn_synthetic/teacher.pth (see
# benchmarks/teachers.py; override with --cfg-options model.teacher_ckpt=...).
# data, schedule, runtime and the student
_base_ = '../tiny/fasterrcnn_r18w16_fpn_500it_synthetic.py'
teacher = '{{ fileDirname }}/../tiny/fasterrcnn_r34w32_fpn_500it_synthetic.py'
model = dict(
    _delete_=True,
    type='ERADistiller',
    student={{_base_.model}},
    teacher_config=teacher,
    teacher_ckpt=('{{ fileDirname }}/../../work_dirs/'
                  'teacher_fasterrcnn_synthetic/teacher.pth'),
    mbrnet=dict(num_branches=4, num_blocks=2, feature_norm='teacher_std'),
    mimic_weight=5.0,
    residual_weight=1.0,
    twi_weight=1.0,
    # the teacher's RPN (anchors assigned once) and RoI box head (one set of
    # RoIs sampled from the student's proposals) score the K+1 approximations
    twi_mode='all',
    init_student_head=False,
    inference_mode='S')
custom_hooks = [
    dict(type='DistillLossWarmupHook', warmup_iters=50),
    dict(type='AlphaSweepHook', alphas=[0.0, 0.3, 0.5, 1.0]),
    dict(type='ExportStudentHook'),
]
