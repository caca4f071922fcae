# ERA ablation on the synthetic set (`python
# python -m benchmarks --suites synthetic-ablations`): single-block branches:
# one 3x3 conv block per branch (ERA: two).
# Everything else is ERA's config.
_base_ = './era_retinanet_r34w32-r18w16_fpn_500it_synthetic.py'

model = dict(mbrnet=dict(num_blocks=1))
