# Tiny student on the synthetic set, trained to its plateau: the plain tiny
# RetinaNet student (retinanet_r18w16_fpn_500it_synthetic.py) with its
# schedule's shape (AdamW, 10% linear warm-up, cosine decay to 1e-5)
# stretched to 16000 iterations; validation every quarter, a checkpoint
# every eighth (an interrupted run resumes from it).
# The plateau lengths 2000 / 4000 / 8000 / 16000 share this shape, so
# doubling the schedule is the only difference between two of them.
_base_ = './retinanet_r18w16_fpn_500it_synthetic.py'

train_cfg = dict(max_iters=16000, val_interval=4000)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=1600),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=1600, end=16000,
         T_max=14400, eta_min=1e-5),
]
default_hooks = dict(checkpoint=dict(interval=2000))
