# Converged tiny GFL teacher: the GFL R34 x1/2 teacher of the synthetic set
# (configs/tiny/gfl_r34w32_fpn_500it_synthetic.py) trained six times as long,
# 3000 iterations (30 epochs of the 400 training images), the schedule of the
# RetinaNet teacher (retinanet_r34w32_fpn_3000it_synthetic.py), until its
# validation mAP plateaus (its curve: configs/tiny/README.md). The GFL
# distillation configs of the synthetic set (LD, CrossKD, ERA, head-init)
# load it from work_dirs/teacher_gfl_synthetic/teacher.pth
# (`make teachers DETECTORS=gfl`, or the fp16 copy kept in teachers/).
# Validation every 250 iterations gives the curve.
_base_ = './gfl_r34w32_fpn_500it_synthetic.py'

max_iters = 3000
warmup_iters = 50
interval = 250
train_cfg = dict(max_iters=max_iters, val_interval=interval)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=warmup_iters),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=warmup_iters,
         end=max_iters, T_max=max_iters - warmup_iters, eta_min=1e-5),
]
# every 500 iterations, the last two kept: a resumable run, a small work dir
default_hooks = dict(checkpoint=dict(interval=500, max_keep_ckpts=2))
