# The plain tiny GFL student at 192 px (gfl_r18w16_fpn_500it_synthetic-192.py)
# with its schedule's shape (AdamW, 10% linear warm-up, cosine decay to 1e-5)
# stretched to 32000 iterations: one length of the plateau study at 192 px.
# Validation every quarter, a checkpoint every 4000 iterations (an
# interrupted run resumes).
_base_ = './gfl_r18w16_fpn_500it_synthetic-192.py'

train_cfg = dict(max_iters=32000, val_interval=8000)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=3200),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=3200, end=32000,
         T_max=28800, eta_min=1e-5),
]
default_hooks = dict(checkpoint=dict(interval=4000))
