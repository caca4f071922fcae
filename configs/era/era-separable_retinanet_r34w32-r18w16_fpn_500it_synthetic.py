# ERA ablation on the synthetic set (`python
# python -m benchmarks --suites synthetic-ablations`): depthwise-separable
# branches (3x3 depthwise + 1x1 pointwise).
# Everything else is ERA's config.
_base_ = './era_retinanet_r34w32-r18w16_fpn_500it_synthetic.py'

model = dict(mbrnet=dict(separable=True))
