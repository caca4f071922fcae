# ERA's cheap setting on COCO: one depthwise-separable block per MBRNet branch
# and one sampled TWI head pass per step (weight x(K+1), an unbiased estimate
# of the K+1-pass loss). See the README's cost table.
_base_ = './era_retinanet_r101-r50_fpn_1x_coco.py'

model = dict(
    mbrnet=dict(num_blocks=1, separable=True),
    twi_mode='sampled')
