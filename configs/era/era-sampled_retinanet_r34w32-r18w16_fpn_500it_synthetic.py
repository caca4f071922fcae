# ERA ablation on the synthetic set (`python
# python -m benchmarks --suites synthetic-ablations`): one sampled
# approximation per step for TWI, weighted by K+1
# (unbiased for twi_mode='all').
# Everything else is ERA's config.
_base_ = './era_retinanet_r34w32-r18w16_fpn_500it_synthetic.py'

model = dict(twi_mode='sampled')
