# FitNet hints on COCO, two-stage with masks: Mask R-CNN R101 (teacher, 40.0
# box AP / 36.1 mask AP) -> Mask R-CNN R50 (student, 38.2 box AP / 34.7 mask
# AP stock), 1x schedule. A 1x1-conv regressor per FPN level maps the
# student's P2-P6 to the teacher's; MSE (mean over elements) per level,
# summed over the 5 levels. The student is mmdet's config unchanged: its own
# RPN, box and mask losses are computed on the features the distiller
# extracts once; only the teacher's backbone and FPN run.
# python tools/train.py
# configs/fitnet/fitnet_maskrcnn_r101-r50_fpn_1x_coco.py
# bash tools/dist_train.sh
# configs/fitnet/fitnet_maskrcnn_r101-r50_fpn_1x_coco.py 8
_base_ = [
    'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py',
    '../_base_/mmera_runtime.py',
]

teacher_ckpt = 'https://download.openmmlab.com/mmdetection/v2.0/mask_rcnn/mask_rcnn_r101_fpn_1x_coco/mask_rcnn_r101_fpn_1x_coco_20200204-1efe0ed5.pth'  # noqa: E501
model = dict(
    _delete_=True,
    type='FitNetDistiller',
    student={{_base_.model}},
    teacher_config='mmdet::mask_rcnn/mask-rcnn_r101_fpn_1x_coco.py',
    teacher_ckpt=teacher_ckpt,
    # weight 1 per level, as the RetinaNet FitNet config: the MSE follows
    # the teacher's activation scale (O(1) for an FPN without output norm)
    distill_loss=dict(type='mmdet.MSELoss', loss_weight=1.0),
    adapter='conv',  # FitNet's regressor, even though both FPNs are 256-ch
    levels=None)  # all 5 levels (P2-P6)

custom_hooks = [
    # the regressor starts random: ramp the unbounded MSE in (as ERA does)
    dict(type='DistillLossWarmupHook', warmup_iters=1000),
    dict(type='ExportStudentHook', filename='student_final.pth'),
]

# mmera's checked dataset: the samples of mmdet's CocoDataset (with masks:
# mmdet's coco_instance pipeline), with errors that name a missing, empty or
# corrupt file and the key to fix.
train_dataloader = dict(dataset=dict(type='CheckedCocoDataset'))
val_dataloader = dict(dataset=dict(type='CheckedCocoDataset'))
test_dataloader = dict(dataset=dict(type='CheckedCocoDataset'))
