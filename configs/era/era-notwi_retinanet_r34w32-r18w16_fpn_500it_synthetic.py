# ERA ablation on the synthetic set (`python
# python -m benchmarks --suites synthetic-ablations`): MBRNet and the mimic
# loss only, no TWI (twi_mode='none').
# Everything else is ERA's config.
_base_ = './era_retinanet_r34w32-r18w16_fpn_500it_synthetic.py'

model = dict(twi_mode='none')
