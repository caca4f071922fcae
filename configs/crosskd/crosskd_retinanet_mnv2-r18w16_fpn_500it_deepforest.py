# CrossKD on the real mini set: the ImageNet-MobileNetV2 RetinaNet teacher
# -> the from-scratch R18 x1/4 student. The backbones differ, but both have a
# 64-channel FPN and the same 2-conv, 1-class RetinaHead (same anchors), so
# the student head's tower features can be fed into the teacher's head. The
# teacher checkpoint comes from
#   make teachers DATA=deepforest
#   (= python -m benchmarks.train_teachers --data deepforest)
# which trains the converged tiny teacher and writes exactly the path below,
# work_dirs/teacher_deepforest/teacher.pth
# (override with --cfg-options model.teacher_ckpt=...).
# data, schedule, runtime and the student
_base_ = '../tiny/retinanet_r18w16_fpn_500it_deepforest.py'
teacher = '{{ fileDirname }}/../tiny/retinanet_mnv2_fpn_2000it_deepforest.py'  # noqa: E501
model = dict(
    _delete_=True,
    type='CrossKDDistiller',
    student={{_base_.model}},
    teacher_config=teacher,
    teacher_ckpt='{{ fileDirname }}/../../work_dirs/teacher_deepforest/teacher.pth',  # noqa: E501
    # i = stacked_convs - 1 (the paper's i = 3 of 4): the student's first
    # tower conv, then the teacher's last tower conv and predictors
    cross_index=1,
    cls_weight=1.0,  # quality-focal KD on the class scores
    cls_beta=1.0,
    bbox_weight=1.0,  # GIoU on the decoded boxes, teacher-score weighted
    # LD on the box distributions: GFL heads only (a RetinaHead has none)
    ld_weight=4.0,
    ld_temperature=1.0)
custom_hooks = [dict(type='ExportStudentHook')]
