# Ablation of ERA's cheap setting at the plain student's plateau (16000
# iterations at 192 px): K = 0, TWI on P(S) alone, with no residual branches,
# emulated as the 500-iteration ablation does
# (era-k0_retinanet_r34w32-r18w16_fpn_500it_synthetic.py): one branch that
# never moves (no residual loss, TWI weight 0 on M_1; its last norm starts at
# zero, so M_1 = M_0 = P(S) throughout; the mimic loss is on P(S)). Against
# era-fast (K = 4) it says what the residual branches add at the plateau.
# Everything else is era-fast's config.
_base_ = './era-fast_retinanet_r34w32-r18w16_fpn_16000it_synthetic-192.py'

model = dict(
    mbrnet=dict(num_branches=1),
    residual_weight=0.0,
    twi_weights=[1.0, 0.0])
