# Tiny teacher on the real mini set: RetinaNet on torchvision's ImageNet
# MobileNetV2, converted once by `make pretrained`:
#   python tools/model_converters/mobilenetv2_to_mmdet.py \
#       --out data/pretrained/mobilenet_v2_mmdet.pth
_base_ = './retinanet_r18w16_fpn_500it_deepforest.py'

pretrained = '{{ fileDirname }}/../../data/pretrained/mobilenet_v2_mmdet.pth'
model = dict(
    backbone=dict(
        _delete_=True,
        type='MobileNetV2',
        out_indices=(2, 4, 6),  # strides 8, 16, 32; 32, 96, 320 channels
        # batch 4 is too small to re-estimate BN statistics
        norm_eval=True,
        frozen_stages=-1,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[32, 96, 320], start_level=0))
