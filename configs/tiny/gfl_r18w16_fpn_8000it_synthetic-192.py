# The plain tiny GFL student at 192 px (gfl_r18w16_fpn_500it_synthetic-192.py)
# with its schedule's shape (AdamW, 10% linear warm-up, cosine decay to 1e-5)
# stretched to 8000 iterations: one length of the plateau study at 192 px.
# Validation every quarter, a checkpoint every 1000 iterations (an
# interrupted run resumes).
_base_ = './gfl_r18w16_fpn_500it_synthetic-192.py'

train_cfg = dict(max_iters=8000, val_interval=2000)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=800),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=800, end=8000,
         T_max=7200, eta_min=1e-5),
]
default_hooks = dict(checkpoint=dict(interval=1000))
