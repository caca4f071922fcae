# SSKD on the synthetic set: tiny RetinaNet R34 x1/2 teacher -> R18 x1/4
# student. The teacher checkpoint comes from
# make teachers DATA=synthetic   (= python -m benchmarks.train_teachers
# --data synthetic)
# which trains the tiny teacher and writes exactly the path below,
# work_dirs/teacher_synthetic/teacher.pth
# (override with --cfg-options model.teacher_ckpt=...).
#
# Both backbones output strides 4, 8, 16, 32, so the stages pair one to one
# (stage_pairs=None: matched by stride): 4 mimic phases, then the task phase.
# Schedule (500 iterations, the tiny student's own AdamW + cosine schedule, so
# the comparison with it is about the method, not the learning rate):
#   iterations   0- 59  stem + layer1 mimic the teacher's stride-4 output
#               60-119  layer2 (stride 8)     120-179  layer3 (stride 16)
#              180-239  layer4 (stride 32)
#              240-499  task: backbone frozen, FPN + head, detection loss
# Each mimic phase is a regression of one stage (12 k to 0.56 M parameters,
# adapter included) onto fixed teacher features and converges fast; the FPN
# and head (0.43 M) start from scratch in the task phase, so it gets about
# half of the run.
# data, schedule, runtime and the student
_base_ = '../tiny/retinanet_r18w16_fpn_500it_synthetic.py'
teacher = '{{ fileDirname }}/../tiny/retinanet_r34w32_fpn_3000it_synthetic.py'
model = dict(
    _delete_=True,
    type='SSKDDistiller',
    student={{_base_.model}},
    teacher_config=teacher,
    teacher_ckpt=('{{ fileDirname }}/../../work_dirs/teacher_synthetic/'
                  'teacher.pth'),
    stage_pairs=None,
    adapter='conv')
custom_hooks = [
    # one boundary per stage pair: where each mimic phase ends
    dict(type='SSKDStageHook', stage_boundaries=[60, 120, 180, 240]),
    dict(type='ExportStudentHook'),
]
# Under DDP: each phase leaves most parameters without gradients (frozen by
# requires_grad=False), which DDP must be told to expect.
model_wrapper_cfg = dict(
    type='MMDistributedDataParallel', find_unused_parameters=True)
