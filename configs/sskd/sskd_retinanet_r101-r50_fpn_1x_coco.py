# SSKD on COCO: RetinaNet R101 (teacher, 38.5 AP) -> RetinaNet R50 (student,
# 36.5 AP stock), 1x schedule (12 epochs, epoch-based like mmdet's).
#   python tools/train.py configs/sskd/sskd_retinanet_r101-r50_fpn_1x_coco.py
# bash tools/dist_train.sh
# configs/sskd/sskd_retinanet_r101-r50_fpn_1x_coco.py 8
# The student is mmdet's config unchanged (ImageNet R50, frozen_stages=1,
# norm_eval=True); the teacher is built from its mmdet config and the
# model-zoo checkpoint. Only the teacher's backbone runs (mimic phases).
_base_ = [
    'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py',
    '../_base_/mmera_runtime.py',
]

teacher_ckpt = 'https://download.openmmlab.com/mmdetection/v2.0/retinanet/retinanet_r101_fpn_1x_coco/retinanet_r101_fpn_1x_coco_20200130-7a93545f.pth'  # noqa: E501
model = dict(
    _delete_=True,
    type='SSKDDistiller',
    student={{_base_.model}},
    teacher_config='mmdet::retinanet/retinanet_r101_fpn_1x_coco.py',
    teacher_ckpt=teacher_ckpt,
    # (student output, teacher output) of strides 8, 16, 32: layer2, layer3,
    # layer4. The stride-4 stage (stem + layer1) is frozen by the student's
    # frozen_stages=1 (ImageNet weights kept), so it has no phase.
    stage_pairs=[(1, 1), (2, 2), (3, 3)],
    adapter='conv')

# Phases by epoch (the loop is epoch-based): epochs 0, 1, 2 train layer2,
# layer3, layer4 to mimic R101's (one COCO epoch, ~7.3k iterations at batch
# 16, per stage); epochs 3-11 are the task phase (backbone frozen, FPN + head
# with the detection loss), which gets the 1x learning-rate steps at epochs 8
# and 11 unchanged: 5 epochs at 0.01, 3 at 0.001, 1 at 0.0001.
custom_hooks = [
    dict(type='SSKDStageHook', stage_boundaries=[1, 2, 3], by_epoch=True),
    dict(type='ExportStudentHook', filename='student_final.pth'),
]
# Under DDP: each phase leaves most parameters without gradients (frozen by
# requires_grad=False), which DDP must be told to expect.
model_wrapper_cfg = dict(
    type='MMDistributedDataParallel', find_unused_parameters=True)
# No COCO validation while the neck and head are still untrained (mimic
# phases): the first validation is after the first task-phase epoch.
train_cfg = dict(val_begin=4)

# mmera's checked dataset: the samples of mmdet's CocoDataset, with errors
# that name a missing, empty or corrupt file and the key to fix.
train_dataloader = dict(dataset=dict(type='CheckedCocoDataset'))
val_dataloader = dict(dataset=dict(type='CheckedCocoDataset'))
test_dataloader = dict(dataset=dict(type='CheckedCocoDataset'))
