# ERA on COCO, 2x schedule (24 epochs): the 2x teacher (38.9 AP) and the
# student's 2x schedule (stock R50 2x: 37.4 AP).
_base_ = './era_retinanet_r101-r50_fpn_1x_coco.py'

model = dict(
    teacher_config='mmdet::retinanet/retinanet_r101_fpn_2x_coco.py',
    teacher_ckpt='https://download.openmmlab.com/mmdetection/v2.0/retinanet/retinanet_r101_fpn_2x_coco/retinanet_r101_fpn_2x_coco_20200131-5560aee8.pth')  # noqa: E501

max_epochs = 24
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0,
         end=500),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True,
         milestones=[16, 22], gamma=0.1)
]
