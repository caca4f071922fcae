# The plain tiny GFL student at 192 px (gfl_r18w16_fpn_500it_synthetic-192.py)
# with its schedule's shape (AdamW, 10% linear warm-up, cosine decay to 1e-5)
# stretched to 4000 iterations: one length of the plateau study at 192 px.
# Validation every quarter, a checkpoint every 1000 iterations (an
# interrupted run resumes).
_base_ = './gfl_r18w16_fpn_500it_synthetic-192.py'

train_cfg = dict(max_iters=4000, val_interval=1000)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=400),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=400, end=4000,
         T_max=3600, eta_min=1e-5),
]
default_hooks = dict(checkpoint=dict(interval=1000))
