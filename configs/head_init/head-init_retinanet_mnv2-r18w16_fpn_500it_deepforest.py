# Head-initialised baseline on the real mini set: the plain tiny RetinaNet
# student (R18 x1/4, from scratch), trained exactly as
# configs/tiny/retinanet_r18w16_fpn_500it_deepforest.py, except that its
# head starts from the converged ImageNet-MobileNetV2 RetinaNet teacher's
# (configs/tiny/retinanet_mnv2_fpn_2000it_deepforest.py; other backbone, but
# the same 64-channel FPN output and 2-conv, 1-class RetinaHead). No teacher
# forward and no distillation loss: what ERA's init_student_head=True gives
# without the rest of ERA.
# HeadInitHook loads every weight under "bbox_head." of the teacher
# checkpoint into the student's head, strictly (a weight of another shape
# is an error, not a warning), after init_weights and before the first
# step. The teacher checkpoint comes from
#   make teachers DATA=deepforest
#   (= python -m benchmarks.train_teachers --data deepforest)
# which trains the tiny teacher and writes exactly the path below,
# work_dirs/teacher_deepforest/teacher.pth
# (override with --cfg-options custom_hooks.0.checkpoint=...).
# data, schedule, runtime and the student
_base_ = '../tiny/retinanet_r18w16_fpn_500it_deepforest.py'
# the teacher the checkpoint was trained with (names the pair; not read by
# training)
teacher_config = '{{ fileDirname }}/../tiny/retinanet_mnv2_fpn_2000it_deepforest.py'  # noqa: E501
teacher_ckpt = '{{ fileDirname }}/../../work_dirs/teacher_deepforest/teacher.pth'  # noqa: E501
custom_hooks = [
    dict(type='HeadInitHook', checkpoint=teacher_ckpt, module='bbox_head')
]
