# PKD at the plain student's 16000-iteration schedule at 192 px
# (configs/tiny/retinanet_r18w16_fpn_16000it_synthetic-192.py): tiny RetinaNet
# R34 x1/2 teacher -> R18 x1/4 student, every option of PKDDistiller stated
# (as pkd_retinanet_r34w32-r18w16_fpn_500it_synthetic.py).
# The teacher: the tiny RetinaNet teacher at 192 px trained for 32000
# iterations, as long as the longest plain student of the study
# (python -m benchmarks.train_teachers --detectors retinanet-32000it-192).
# data, schedule, runtime and the student
_base_ = '../tiny/retinanet_r18w16_fpn_16000it_synthetic-192.py'
teacher = ('{{ fileDirname }}/../tiny/retinanet_r34w32_fpn_32000it_'
           'synthetic-192.py')
model = dict(
    _delete_=True,
    type='PKDDistiller',
    student={{_base_.model}},
    teacher_config=teacher,
    teacher_ckpt=('{{ fileDirname }}/../../work_dirs/'
                  'teacher_retinanet-32000it-192_synthetic/teacher.pth'),
    distill_loss=dict(type='PearsonFeatureLoss', loss_weight=6.0),
    adapter='auto',
    levels=(0, 1, 2, 3))  # P3-P6, as the COCO config
custom_hooks = [dict(type='ExportStudentHook')]
