# ERA's detection-port fix proposed by the ablations, on the
# synthetic set (`python -m benchmarks --suites
# synthetic-ablations --methods era-twidetach`): TWI scores M_k with the
# residual branches' predictions detached, so its gradient reaches the
# student through P(S) only and the branches learn from the residual loss
# alone (with TWI's gradient they stop shrinking the residual).
# Everything else is ERA's config.
_base_ = './era_retinanet_r34w32-r18w16_fpn_500it_synthetic.py'

model = dict(twi_detach_branches=True)
