# ERA's cheap setting on the synthetic set (see retinanet_r101_to_r50_coco_fast.py).
_base_ = './era_r34w32_to_r18w16_synthetic.py'

model = dict(
    mbrnet=dict(num_blocks=1, separable=True),
    twi_mode='sampled')
