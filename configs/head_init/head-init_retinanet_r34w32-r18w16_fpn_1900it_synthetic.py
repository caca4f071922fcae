# Head-initialised AND cost-matched baseline on the synthetic set: the
# cost-matched student (configs/tiny/retinanet_r18w16_fpn_1900it_synthetic.py:
# the plain student trained for ERA's measured cost, 3.8 x 500 iterations)
# with its head started from the tiny RetinaNet teacher's, as
# head-init_retinanet_r34w32-r18w16_fpn_500it_synthetic.py does. The control
# of ERA's proposal era-headinit_* (ERA with init_student_head=True): the
# same compute and the same head start without the distillation losses.
# The teacher checkpoint: `make teachers DATA=synthetic`.
# data, the stretched schedule, runtime and the student
_base_ = '../tiny/retinanet_r18w16_fpn_1900it_synthetic.py'
# the teacher the checkpoint was trained with (names the pair; not read by
# training)
teacher_config = '{{ fileDirname }}/../tiny/retinanet_r34w32_fpn_3000it_synthetic.py'  # noqa: E501
teacher_ckpt = '{{ fileDirname }}/../../work_dirs/teacher_synthetic/teacher.pth'  # noqa: E501
custom_hooks = [
    dict(type='HeadInitHook', checkpoint=teacher_ckpt, module='bbox_head')
]
