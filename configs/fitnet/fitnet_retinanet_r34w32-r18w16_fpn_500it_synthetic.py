# FitNet hints on the synthetic set: tiny RetinaNet R34 x1/2 teacher -> R18
# x1/4 student (both 64-channel FPNs). The teacher checkpoint comes from
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
    type='FitNetDistiller',
    student={{_base_.model}},
    teacher_config=teacher,
    teacher_ckpt=('{{ fileDirname }}/../../work_dirs/teacher_synthetic/'
                  'teacher.pth'),
    distill_loss=dict(type='mmdet.MSELoss', loss_weight=1.0),
    adapter='conv',
    levels=None)
custom_hooks = [
    dict(type='DistillLossWarmupHook', warmup_iters=50),
    dict(type='ExportStudentHook'),
]
