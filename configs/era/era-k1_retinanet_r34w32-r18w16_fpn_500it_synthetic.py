# ERA ablation on the synthetic set (`python
# python -m benchmarks --suites synthetic-ablations`): K = 1 residual step
# (ERA: K = 4).
# Everything else is ERA's config.
_base_ = './era_retinanet_r34w32-r18w16_fpn_500it_synthetic.py'

model = dict(mbrnet=dict(num_branches=1))
