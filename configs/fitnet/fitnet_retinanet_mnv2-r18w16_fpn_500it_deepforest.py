# FitNet hints on the real mini set: the ImageNet-MobileNetV2 RetinaNet
# teacher -> the from-scratch R18 x1/4 student (both 64-channel FPNs, strides
# 8-128).
# data, schedule, runtime and the student
_base_ = '../tiny/retinanet_r18w16_fpn_500it_deepforest.py'
teacher = '{{ fileDirname }}/../tiny/retinanet_mnv2_fpn_2000it_deepforest.py'
# The teacher checkpoint: `make teachers DATA=deepforest` writes exactly
# work_dirs/teacher_deepforest/teacher.pth (benchmarks/train_teachers.py).
model = dict(
    _delete_=True,
    type='FitNetDistiller',
    student={{_base_.model}},
    teacher_config=teacher,
    teacher_ckpt=('{{ fileDirname }}/../../work_dirs/teacher_deepforest/'
                  'teacher.pth'),
    distill_loss=dict(type='mmdet.MSELoss', loss_weight=1.0),
    adapter='conv',
    levels=None)
custom_hooks = [
    dict(type='DistillLossWarmupHook', warmup_iters=50),
    dict(type='ExportStudentHook'),
]
