# ERA's cheap setting on the synthetic set (see era-fast_retinanet_r101-r50_fpn_1x_coco.py).
_base_ = './era_retinanet_r34w32-r18w16_fpn_500it_synthetic.py'

model = dict(
    mbrnet=dict(num_blocks=1, separable=True),
    twi_mode='sampled')
