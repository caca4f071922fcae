# Ablation of ERA's cheaper settings on the tiny FCOS pair: the
# era-sampled setting with TWI on a random half of the steps only
# (twi_probability=0.5, TWI weight x2 on those steps: unbiased over steps).
# Measured: it keeps 68% of full ERA's gain (3 seeds), below the 90% the
# cheap setting must keep, so the era-fast configs do not use it.
# Command: python -m benchmarks --suites synthetic-fcos.
_base_ = './era-sampled_fcos_r34w32-r18w16_fpn_500it_synthetic.py'

model = dict(twi_probability=0.5)
