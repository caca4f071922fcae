# RKD on the synthetic set: tiny RetinaNet R34 x1/2 teacher -> R18 x1/4
# student (same 64-channel FPN and head, so no adapter). The student's FPN
# output convs are split along their input channels into the student half S
# (mimics the teacher) and the assistant half A (learns T - S); the head sees
# S + A, i.e. the plain student's forward, so the deployed model is the plain
# student at its own cost (benchmarks/rkd_cost.py measures it).
# The teacher checkpoint comes from
# make teachers DATA=synthetic   (= python -m benchmarks.train_teachers
# --data synthetic)
# which trains the tiny teacher and writes exactly the path below,
# work_dirs/teacher_synthetic/teacher.pth
# (override with --cfg-options model.teacher_ckpt=...).
# data, schedule, runtime and the student
_base_ = '../tiny/retinanet_r18w16_fpn_500it_synthetic.py'
teacher = '{{ fileDirname }}/../tiny/retinanet_r34w32_fpn_3000it_synthetic.py'
model = dict(
    _delete_=True,
    type='RKDDistiller',
    student={{_base_.model}},
    teacher_config=teacher,
    teacher_ckpt=('{{ fileDirname }}/../../work_dirs/teacher_synthetic/'
                  'teacher.pth'),
    split_ratio=0.5,  # half of each FPN output conv's inputs feed S
    # both losses are divided by the teacher level's variance (scale-free),
    # so they share ERA's mimic weight
    feature_norm='teacher_std',
    mimic_weight=5.0,
    residual_weight=5.0,
    adapter='auto')
custom_hooks = [
    dict(type='DistillLossWarmupHook', warmup_iters=50),
    dict(type='ExportStudentHook'),
]
