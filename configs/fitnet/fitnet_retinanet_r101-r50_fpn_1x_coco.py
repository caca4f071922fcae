# FitNet hints on COCO: RetinaNet R101 (teacher, 38.5 AP) -> RetinaNet R50
# (student, 36.5 AP stock), 1x schedule. A 1x1-conv regressor per FPN level
# maps the student's P3-P7 to the teacher's; MSE (mean over elements) per
# level, summed over the 5 levels. The student is mmdet's config unchanged.
# python tools/train.py
# configs/fitnet/fitnet_retinanet_r101-r50_fpn_1x_coco.py
# bash tools/dist_train.sh
# configs/fitnet/fitnet_retinanet_r101-r50_fpn_1x_coco.py 8
_base_ = [
    'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py',
    '../_base_/mmera_runtime.py',
]

teacher_ckpt = 'https://download.openmmlab.com/mmdetection/v2.0/retinanet/retinanet_r101_fpn_1x_coco/retinanet_r101_fpn_1x_coco_20200130-7a93545f.pth'  # noqa: E501
model = dict(
    _delete_=True,
    type='FitNetDistiller',
    student={{_base_.model}},
    teacher_config='mmdet::retinanet/retinanet_r101_fpn_1x_coco.py',
    teacher_ckpt=teacher_ckpt,
    # A moderate weight: the MSE is unnormalised (it follows the teacher's
    # activation scale, O(1) for an FPN without output norm), so weight 1 per
    # level keeps the 5-level hint of the order of RetinaNet's own initial
    # loss (~1.1 cls + ~0.6 box); PKD needs 6 only because its loss is the
    # scale-free 1 - r.
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
