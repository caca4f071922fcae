# SSKD on the real mini set: the ImageNet-MobileNetV2 RetinaNet teacher ->
# the from-scratch R18 x1/4 student.
#
# The teacher's backbone outputs strides 8, 16, 32 (MobileNetV2 out_indices
# (2, 4, 6)); the student's stride-4 output (stem + layer1) has no teacher
# partner, so it trains together with layer2 in the first phase (automatic
# pairing by stride: (1, 0), (2, 1), (3, 2)): 3 mimic phases, then the task.
# Schedule (500 iterations, the tiny student's own AdamW + cosine schedule):
#   iterations   0- 79  stem + layer1 + layer2 mimic the stride-8 output
#               80-159  layer3 (stride 16)    160-239  layer4 (stride 32)
#              240-499  task: backbone frozen, FPN + head, detection loss
# Each mimic phase regresses one or two stages (46 k to 0.57 M parameters,
# adapter included) onto fixed teacher features, a much easier problem than
# detection; the FPN and head (0.41 M) start from scratch in the task phase,
# so it gets about half of the run (260 iterations).
# data, schedule, runtime and the student
_base_ = '../tiny/retinanet_r18w16_fpn_500it_deepforest.py'
teacher = '{{ fileDirname }}/../tiny/retinanet_mnv2_fpn_2000it_deepforest.py'
# The teacher checkpoint: `make teachers DATA=deepforest` writes exactly
# work_dirs/teacher_deepforest/teacher.pth (benchmarks/train_teachers.py).
model = dict(
    _delete_=True,
    type='SSKDDistiller',
    student={{_base_.model}},
    teacher_config=teacher,
    teacher_ckpt=('{{ fileDirname }}/../../work_dirs/teacher_deepforest/'
                  'teacher.pth'),
    stage_pairs=None,
    adapter='conv')
custom_hooks = [
    dict(type='SSKDStageHook', stage_boundaries=[80, 160, 240]),
    dict(type='ExportStudentHook'),
]
# Under DDP: each phase leaves most parameters without gradients (frozen by
# requires_grad=False), which DDP must be told to expect.
model_wrapper_cfg = dict(
    type='MMDistributedDataParallel', find_unused_parameters=True)
