# FitNet hints on the synthetic set: tiny RetinaNet R34 x1/2 teacher -> R18
# x1/4 student (both 64-channel FPNs). The teacher checkpoint comes from
#   python tools/train.py configs/tiny/retinanet_r34w32_fpn_synthetic.py \
#       --work-dir work_dirs/teacher_synthetic
# (override with --cfg-options model.teacher_ckpt=...).
_base_ = '../tiny/retinanet_r18w16_fpn_synthetic.py'  # data, schedule, runtime and the student
teacher = '{{ fileDirname }}/../tiny/retinanet_r34w32_fpn_synthetic.py'
model = dict(
    _delete_=True,
    type='FitNetDistiller',
    student={{_base_.model}},
    teacher_config=teacher,
    teacher_ckpt='{{ fileDirname }}/../../work_dirs/teacher_synthetic/teacher.pth',
    distill_loss=dict(type='mmdet.MSELoss', loss_weight=1.0),
    adapter='conv',
    levels=None)
custom_hooks = [
    dict(type='DistillLossWarmupHook', warmup_iters=50),
    dict(type='ExportStudentHook'),
]
