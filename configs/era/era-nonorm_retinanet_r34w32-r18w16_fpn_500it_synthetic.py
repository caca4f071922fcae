# ERA ablation on the synthetic set (`python
# python -m benchmarks --suites synthetic-ablations`): plain MSE for the
# mimic and residual losses, no division by the
# teacher level's variance (feature_norm='none').
# Everything else is ERA's config.
_base_ = './era_retinanet_r34w32-r18w16_fpn_500it_synthetic.py'

model = dict(mbrnet=dict(feature_norm='none'))
