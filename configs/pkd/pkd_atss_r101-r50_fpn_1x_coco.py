# PKD on COCO: ATSS R101 (teacher, 41.5 AP) -> ATSS R50 (student, 39.4 AP
# stock), 1x schedule. Pearson-correlation imitation of FPN levels P3-P6
# (MMRazor's PKD setting: FPN outputs 0-3, loss_weight 6 per level). No
# adapter: both FPNs are 256-ch. The student is mmdet's config unchanged; the
# teacher is built from its mmdet config and the model-zoo checkpoint.
#   python tools/train.py configs/pkd/pkd_atss_r101-r50_fpn_1x_coco.py
#   bash tools/dist_train.sh configs/pkd/pkd_atss_r101-r50_fpn_1x_coco.py 8
_base_ = [
    'mmdet::atss/atss_r50_fpn_1x_coco.py',
    '../_base_/mmera_runtime.py',
]

teacher_ckpt = 'https://download.openmmlab.com/mmdetection/v2.0/atss/atss_r101_fpn_1x_coco/atss_r101_fpn_1x_20200825-dfcadd6f.pth'  # noqa: E501
model = dict(
    _delete_=True,
    type='PKDDistiller',
    student={{_base_.model}},
    teacher_config='mmdet::atss/atss_r101_fpn_1x_coco.py',
    teacher_ckpt=teacher_ckpt,
    distill_loss=dict(type='PearsonFeatureLoss', loss_weight=6.0),
    adapter='auto',  # a 1x1 conv only if the widths differ
    levels=(0, 1, 2, 3))

# No warm-up, as in MMRazor: 1 - r is bounded (<= 2 per level).
custom_hooks = [dict(type='ExportStudentHook', filename='student_final.pth')]

# mmera's checked dataset: the samples of mmdet's CocoDataset, with errors
# that name a missing, empty or corrupt file and the key to fix.
train_dataloader = dict(dataset=dict(type='CheckedCocoDataset'))
val_dataloader = dict(dataset=dict(type='CheckedCocoDataset'))
test_dataloader = dict(dataset=dict(type='CheckedCocoDataset'))
