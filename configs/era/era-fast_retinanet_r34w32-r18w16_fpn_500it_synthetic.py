# ERA's cheap setting, the defaults of ERADistiller and MBRNet and the
# setting of the main COCO configs (era_retinanet_r101-r50_fpn_1x_coco.py),
# on the synthetic set:
# bottleneck MBRNet branches at a quarter of the 64-channel neck, one sampled
# TWI pass per step, TWI heads under bf16.
_base_ = './era_retinanet_r34w32-r18w16_fpn_500it_synthetic.py'

model = dict(
    mbrnet=dict(num_blocks=1, bottleneck_channels=16),
    twi_mode='sampled',
    twi_precision='bf16')
