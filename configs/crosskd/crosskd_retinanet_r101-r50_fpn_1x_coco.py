# CrossKD on COCO: RetinaNet R101 (teacher, 38.5 AP) -> RetinaNet R50
# (student, 36.5 AP stock), 1x schedule. The student is mmdet's config
# unchanged; the teacher is built from its mmdet config and the model-zoo
# checkpoint. Both heads are mmdet's 4-conv, 256-channel RetinaHead.
#   python tools/train.py \
#       configs/crosskd/crosskd_retinanet_r101-r50_fpn_1x_coco.py
#   bash tools/dist_train.sh \
#       configs/crosskd/crosskd_retinanet_r101-r50_fpn_1x_coco.py 8
_base_ = [
    'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py',
    '../_base_/mmera_runtime.py',
]

teacher_ckpt = 'https://download.openmmlab.com/mmdetection/v2.0/retinanet/retinanet_r101_fpn_1x_coco/retinanet_r101_fpn_1x_coco_20200130-7a93545f.pth'  # noqa: E501
model = dict(
    _delete_=True,
    type='CrossKDDistiller',
    student={{_base_.model}},
    teacher_config='mmdet::retinanet/retinanet_r101_fpn_1x_coco.py',
    teacher_ckpt=teacher_ckpt,
    # the paper's i = 3: the student's first three tower convs, then the
    # teacher's fourth and its predictors
    cross_index=3,
    cls_weight=1.0,  # quality-focal KD on the class scores
    cls_beta=1.0,
    bbox_weight=1.0)  # GIoU on the decoded boxes, teacher-score weighted

custom_hooks = [dict(type='ExportStudentHook', filename='student_final.pth')]

# mmera's checked dataset: the samples of mmdet's CocoDataset, with errors
# that name a missing, empty or corrupt file and the key to fix.
train_dataloader = dict(dataset=dict(type='CheckedCocoDataset'))
val_dataloader = dict(dataset=dict(type='CheckedCocoDataset'))
test_dataloader = dict(dataset=dict(type='CheckedCocoDataset'))
