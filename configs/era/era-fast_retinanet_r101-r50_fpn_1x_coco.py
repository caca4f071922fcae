# ERA's cheap setting on COCO (docs/cost.md):
# - MBRNet branches as bottlenecks: 1x1 -> one 3x3 -> 1x1 at a quarter of
#   the teacher neck's width (64 of 256 channels);
# - one sampled TWI head pass per step (weight x(K+1): an unbiased estimate
#   of the K+1-pass loss);
# - the frozen TWI head's forward under bf16 autocast (float32 outputs).
# On the tiny FCOS pair this setting keeps 95% of full ERA's gain over 3
# seeds (configs/era/era-sampled_fcos_r34w32-r18w16_fpn_500it_synthetic.py);
# TWI on only half the steps (twi_probability=0.5) kept 68%, so it is not
# part of it.
_base_ = './era_retinanet_r101-r50_fpn_1x_coco.py'

model = dict(
    mbrnet=dict(num_blocks=1, bottleneck_channels=64),
    twi_mode='sampled',
    twi_precision='bf16')
