# Tiny teacher: Faster R-CNN, ResNet-34 at 1/2 width, on the synthetic set.
# Its FPN, RPN and RoI head have the student's shapes (64 channels).
_base_ = './fasterrcnn_r18w16_fpn_500it_synthetic.py'
model = dict(
    backbone=dict(depth=34, base_channels=32),  # widths 32, 64, 128, 256
    neck=dict(in_channels=[32, 64, 128, 256]))
