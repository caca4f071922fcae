# PKD on COCO, two-stage: Faster R-CNN R101 (teacher, 39.4 box AP) -> Faster
# R-CNN R50 (student, 37.4 box AP stock), 1x schedule. Pearson-correlation
# imitation of FPN levels P2-P5 (strides 4-32), weight 6 per level, as
# MMRazor's Faster R-CNN PKD config (FPN outputs 0-3). No adapter: both FPNs
# are 256-ch. The student is mmdet's config unchanged: its own RPN and RoI
# losses are computed on the features the distiller extracts once.
#   python tools/train.py configs/pkd/pkd_fasterrcnn_r101-r50_fpn_1x_coco.py
# bash tools/dist_train.sh configs/pkd/pkd_fasterrcnn_r101-r50_fpn_1x_coco.py
# 8
_base_ = [
    'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py',
    '../_base_/mmera_runtime.py',
]

teacher_ckpt = 'https://download.openmmlab.com/mmdetection/v2.0/faster_rcnn/faster_rcnn_r101_fpn_1x_coco/faster_rcnn_r101_fpn_1x_coco_20200130-f513f705.pth'  # noqa: E501
model = dict(
    _delete_=True,
    type='PKDDistiller',
    student={{_base_.model}},
    teacher_config='mmdet::faster_rcnn/faster-rcnn_r101_fpn_1x_coco.py',
    teacher_ckpt=teacher_ckpt,
    distill_loss=dict(type='PearsonFeatureLoss', loss_weight=6.0),
    adapter='auto',  # a 1x1 conv only if the FPN widths differ
    levels=(0, 1, 2, 3))  # P2-P5 (the FPN's 5th output, P6, left out)

# No warm-up, as in MMRazor: 1 - r is bounded (<= 2 per level).
custom_hooks = [dict(type='ExportStudentHook', filename='student_final.pth')]

# mmera's checked dataset: the samples of mmdet's CocoDataset, with errors
# that name a missing, empty or corrupt file and the key to fix.
train_dataloader = dict(dataset=dict(type='CheckedCocoDataset'))
val_dataloader = dict(dataset=dict(type='CheckedCocoDataset'))
test_dataloader = dict(dataset=dict(type='CheckedCocoDataset'))
