# ERA ablation on the synthetic set (`python
# python -m benchmarks --suites synthetic-ablations`): TWI on P(S) alone, K =
# 0, emulated: one branch that never moves
# (no residual loss, TWI weight 0 on M_1; its last norm starts at zero, so
# pred_1 = 0 and M_1 = M_0 = P(S) throughout). The idle branch costs time,
# not accuracy.
# Everything else is ERA's config.
_base_ = './era_retinanet_r34w32-r18w16_fpn_500it_synthetic.py'

model = dict(
    mbrnet=dict(num_branches=1),
    residual_weight=0.0,
    twi_weights=[1.0, 0.0])
