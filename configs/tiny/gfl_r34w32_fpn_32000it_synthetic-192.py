# The tiny GFL teacher (R34 x1/2) at 192 px, trained as long as the longest
# plain student run of the GFL plateau study at 192 px
# (gfl_r18w16_fpn_32000it_synthetic-192.py: its schedule, pipelines and
# checkpoints), so that every arm of the comparison at the student's plateau
# distils from a teacher trained at least as long as the student it is
# compared with (work_dirs/teacher_gfl-32000it-192_synthetic/teacher.pth:
# python -m benchmarks.train_teachers --detectors gfl-32000it-192).
_base_ = './gfl_r18w16_fpn_32000it_synthetic-192.py'
model = dict(
    backbone=dict(depth=34, base_channels=32),  # widths 32, 64, 128, 256
    neck=dict(in_channels=[32, 64, 128, 256]))
# validation every 4000 iterations gives the curve; a checkpoint every 2000
# (the last two kept) lets an interrupted run resume
train_cfg = dict(val_interval=4000)
default_hooks = dict(checkpoint=dict(interval=2000, max_keep_ckpts=2))
