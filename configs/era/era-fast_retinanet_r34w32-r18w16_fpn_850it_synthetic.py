# ERA's cheap setting (era-fast: bottleneck branches, one sampled TWI pass,
# bf16 TWI heads) trained for what full ERA's 500 iterations cost: the
# proposal after the cost-matched student beat 500-iteration ERA. Full ERA's
# step is 3.8x the student's (configs/tiny/retinanet_r18w16_fpn_1900it_
# synthetic.py), era-fast's about 2.2x (python -m benchmarks.step_cost
# --config tiny --modes student era_cheap era_all --iters 10 --warmup 2
# --rounds 2 --threads 1, beside two training runs: era_cheap 1.84x and
# era_all 3.20x the student; scaled by the quiet era_all ratio, 3.82 / 3.20),
# so 500 * 3.8 / 2.2 = 850 iterations: the whole schedule stretched by 1.7.
_base_ = './era-fast_retinanet_r34w32-r18w16_fpn_500it_synthetic.py'

stretch = 1.7
max_iters = round(500 * stretch)
warmup_iters = round(50 * stretch)
interval = round(250 * stretch)
train_cfg = dict(max_iters=max_iters, val_interval=interval)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=warmup_iters),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=warmup_iters,
         end=max_iters, T_max=max_iters - warmup_iters, eta_min=1e-5),
]
default_hooks = dict(checkpoint=dict(interval=interval))
