# The tiny RetinaNet teacher (R34 x1/2) trained as long as the longest plain
# student run of the plateau study: the teacher's 500-iteration schedule
# shape (AdamW, 10% linear warm-up, cosine decay to 1e-5) stretched to 16000
# iterations, as configs/tiny/retinanet_r18w16_fpn_16000it_synthetic.py
# stretches the student's. A teacher trained for 3000 iterations
# (retinanet_r34w32_fpn_3000it_synthetic.py) scores below the student
# trained for 8000, so the comparison at the student's plateau distils from
# this one (work_dirs/teacher_retinanet-16000it_synthetic/teacher.pth:
# python -m benchmarks.train_teachers --detectors retinanet-16000it).
# Validation every 2000 iterations gives the curve; a checkpoint every 2000
# (the last two kept) lets an interrupted run resume.
_base_ = './retinanet_r34w32_fpn_500it_synthetic.py'

train_cfg = dict(max_iters=16000, val_interval=2000)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=1600),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=1600, end=16000,
         T_max=14400, eta_min=1e-5),
]
default_hooks = dict(checkpoint=dict(interval=2000, max_keep_ckpts=2))
