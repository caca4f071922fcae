# PKD on the synthetic set: tiny Faster R-CNN R34 x1/2 teacher -> R18 x1/4
# student (same 64-channel FPN, RPN and RoI head; strides 4..64). The
# student keeps its whole own loss (RPN + RoI head). The teacher checkpoint
# comes from
#   make teachers DATA=synthetic DETECTORS=fasterrcnn
# (= python -m benchmarks.train_teachers --data synthetic --detectors
# fasterrcnn)
# which trains the tiny teacher and writes exactly the path below,
# work_dirs/teacher_fasterrcnn_synthetic/teacher.pth (see
# benchmarks/teachers.py; override with --cfg-options model.teacher_ckpt=...).
# data, schedule, runtime and the student
_base_ = '../tiny/fasterrcnn_r18w16_fpn_500it_synthetic.py'
teacher = '{{ fileDirname }}/../tiny/fasterrcnn_r34w32_fpn_500it_synthetic.py'
model = dict(
    _delete_=True,
    type='PKDDistiller',
    student={{_base_.model}},
    teacher_config=teacher,
    teacher_ckpt=('{{ fileDirname }}/../../work_dirs/'
                  'teacher_fasterrcnn_synthetic/teacher.pth'),
    # PKD's default: Pearson correlation per level, weight 6, every stride
    distill_loss=dict(type='PearsonFeatureLoss', loss_weight=6.0))
custom_hooks = [dict(type='ExportStudentHook')]
