# Head-initialised baseline on the synthetic set: the plain tiny RetinaNet
# student (R18 x1/4), trained exactly as
# configs/tiny/retinanet_r18w16_fpn_500it_synthetic.py, except that its
# head starts from the tiny RetinaNet teacher's (R34 x1/2; same 64-channel
# 2-conv RetinaHead). No teacher forward and no distillation loss: what
# ERA's init_student_head=True gives without the rest of ERA.
# HeadInitHook loads every weight under "bbox_head." of the teacher
# checkpoint into the student's head, strictly (a weight of another shape
# is an error, not a warning), after init_weights and before the first
# step. The teacher checkpoint comes from
#   make teachers DATA=synthetic
#   (= python -m benchmarks.train_teachers --data synthetic)
# which trains the tiny teacher and writes exactly the path below,
# work_dirs/teacher_synthetic/teacher.pth
# (override with --cfg-options custom_hooks.0.checkpoint=...).
# data, schedule, runtime and the student
_base_ = '../tiny/retinanet_r18w16_fpn_500it_synthetic.py'
# the teacher the checkpoint was trained with (names the pair; not read by
# training)
teacher_config = '{{ fileDirname }}/../tiny/retinanet_r34w32_fpn_3000it_synthetic.py'  # noqa: E501
teacher_ckpt = '{{ fileDirname }}/../../work_dirs/teacher_synthetic/teacher.pth'  # noqa: E501
custom_hooks = [
    dict(type='HeadInitHook', checkpoint=teacher_ckpt, module='bbox_head')
]
