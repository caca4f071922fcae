# ERA's cheap setting (the era-fast configs' setting) on the tiny FCOS pair,
# all approximations in expectation: bottleneck MBRNet branches at a quarter
# of the
# 64-channel neck, ONE TWI head pass per step at a random approximation
# (weight x(K+1): an unbiased estimate of the K+1-pass loss), under bf16.
# Its accuracy against full ERA: python -m benchmarks --suites families
# --families fcos (the era-sampled rows).
_base_ = './era_fcos_r34w32-r18w16_fpn_500it_synthetic.py'

model = dict(
    mbrnet=dict(num_blocks=1, bottleneck_channels=16),
    twi_mode='sampled',
    twi_precision='bf16')
