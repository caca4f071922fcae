# FitNet hints on COCO: ATSS R101 (teacher, 41.5 AP) -> ATSS R50 (student, 39.4
# AP stock), 1x schedule. A 1x1-conv regressor per FPN level maps the student's
# P3-P7 to the teacher's; MSE (mean over elements) per level, summed over the 5
# levels. The student is mmdet's config unchanged; the teacher is built from
# its mmdet config and the model-zoo checkpoint.
#   python tools/train.py configs/fitnet/fitnet_atss_r101-r50_fpn_1x_coco.py
# bash tools/dist_train.sh configs/fitnet/fitnet_atss_r101-r50_fpn_1x_coco.py
# 8
_base_ = [
    'mmdet::atss/atss_r50_fpn_1x_coco.py',
    '../_base_/mmera_runtime.py',
]

teacher_ckpt = 'https://download.openmmlab.com/mmdetection/v2.0/atss/atss_r101_fpn_1x_coco/atss_r101_fpn_1x_20200825-dfcadd6f.pth'  # noqa: E501
model = dict(
    _delete_=True,
    type='FitNetDistiller',
    student={{_base_.model}},
    teacher_config='mmdet::atss/atss_r101_fpn_1x_coco.py',
    teacher_ckpt=teacher_ckpt,
    # weight 1 per level, as the RetinaNet config (the MSE follows the
    # teacher's activation scale)
    distill_loss=dict(type='mmdet.MSELoss', loss_weight=1.0),
    adapter='conv',  # FitNet's regressor, even though both FPNs are 256-ch
    levels=None)  # all 5 levels

custom_hooks = [
    # the regressor starts random: ramp the unbounded MSE in (as ERA does)
    dict(type='DistillLossWarmupHook', warmup_iters=1000),
    dict(type='ExportStudentHook', filename='student_final.pth'),
]

# mmera's checked dataset: the samples of mmdet's CocoDataset, with errors
# that name a missing, empty or corrupt file and the key to fix.
train_dataloader = dict(dataset=dict(type='CheckedCocoDataset'))
val_dataloader = dict(dataset=dict(type='CheckedCocoDataset'))
test_dataloader = dict(dataset=dict(type='CheckedCocoDataset'))
