# PKD on COCO: RetinaNet R101 (teacher, 38.5 AP) -> RetinaNet R50 (student,
# 36.5 AP stock), 1x schedule. Pearson-correlation imitation of FPN levels
# P3-P6 (MMRazor's PKD configs distil FPN outputs 0-3 with loss_weight 6 per
# level; its RetinaNet-X101 2x config raises it to 10). No adapter: both FPNs
# are 256-ch. The student is mmdet's config unchanged.
#   python tools/train.py configs/pkd/pkd_retinanet_r101-r50_fpn_1x_coco.py
# bash tools/dist_train.sh configs/pkd/pkd_retinanet_r101-r50_fpn_1x_coco.py
# 8
_base_ = [
    'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py',
    '../_base_/mmera_runtime.py',
]

teacher_ckpt = 'https://download.openmmlab.com/mmdetection/v2.0/retinanet/retinanet_r101_fpn_1x_coco/retinanet_r101_fpn_1x_coco_20200130-7a93545f.pth'  # noqa: E501
model = dict(
    _delete_=True,
    type='PKDDistiller',
    student={{_base_.model}},
    teacher_config='mmdet::retinanet/retinanet_r101_fpn_1x_coco.py',
    teacher_ckpt=teacher_ckpt,
    distill_loss=dict(type='PearsonFeatureLoss', loss_weight=6.0),
    adapter='auto',  # a 1x1 conv only if the FPN widths differ
    levels=(0, 1, 2, 3))

# No warm-up, as in MMRazor: 1 - r is bounded (<= 2 per level).
custom_hooks = [dict(type='ExportStudentHook', filename='student_final.pth')]

# mmera's checked dataset: the samples of mmdet's CocoDataset, with errors
# that name a missing, empty or corrupt file and the key to fix.
train_dataloader = dict(dataset=dict(type='CheckedCocoDataset'))
val_dataloader = dict(dataset=dict(type='CheckedCocoDataset'))
test_dataloader = dict(dataset=dict(type='CheckedCocoDataset'))
