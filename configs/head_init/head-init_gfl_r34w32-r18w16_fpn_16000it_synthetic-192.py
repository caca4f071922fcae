# Head-initialised baseline at the 16000-iteration schedule at 192 px: the
# plain tiny GFL student
# (configs/tiny/gfl_r18w16_fpn_16000it_synthetic-192.py) with its head
# started from the tiny GFL teacher's (HeadInitHook, strict), as
# head-init_gfl_r34w32-r18w16_fpn_500it_synthetic.py does at 500
# iterations.
# The teacher: the tiny GFL teacher at 192 px trained for 32000
# iterations, as long as the longest plain student of the study
# (python -m benchmarks.train_teachers --detectors gfl-32000it-192).
# data, schedule, runtime and the student
_base_ = '../tiny/gfl_r18w16_fpn_16000it_synthetic-192.py'
# the teacher the checkpoint was trained with (names the pair; not read by
# training)
teacher_config = '{{ fileDirname }}/../tiny/gfl_r34w32_fpn_32000it_synthetic-192.py'  # noqa: E501
teacher_ckpt = '{{ fileDirname }}/../../work_dirs/teacher_gfl-32000it-192_synthetic/teacher.pth'  # noqa: E501
custom_hooks = [
    dict(type='HeadInitHook', checkpoint=teacher_ckpt, module='bbox_head')
]
