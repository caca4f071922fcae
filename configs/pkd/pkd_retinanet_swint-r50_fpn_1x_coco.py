# PKD on COCO, transformer teacher -> CNN student: RetinaNet Swin-T
# (teacher, mmdet's `swin/retinanet_swin-t-p4-w7_fpn_1x_coco.py`) ->
# RetinaNet R50 (student, 36.5 AP stock), 1x schedule. Pearson-correlation
# imitation of FPN levels P3-P6, weight 6 per level (as the R101 -> R50
# config; PKD's scale-free loss is what makes heterogeneous teachers work in
# the paper and MMRazor's Swin -> RetinaNet config). No adapter: both FPNs
# are 256-ch, with the same strides (the Swin FPN starts at Swin's stage 2).
# The student is mmdet's config unchanged.
#
# TEACHER CHECKPOINT: mmdet 3.3 ships this Swin-T RetinaNet config without
# weights (no entry in its swin/ or retinanet/ metafile, no published AP), so
# teacher_ckpt below is a placeholder path: train the teacher first, e.g.
# python tools/train.py "$(python -c 'import mmdet, os.path as p;
# print(p.join(p.dirname(mmdet.__file__),
# ".mim/configs/swin/retinanet_swin-t-p4-w7_fpn_1x_coco.py"))')" \
#       --work-dir work_dirs/teacher_retinanet_swin-t_coco
#   cp work_dirs/teacher_retinanet_swin-t_coco/epoch_12.pth \
#      work_dirs/teacher_retinanet_swin-t_coco/teacher.pth
# or pass --cfg-options model.teacher_ckpt=/path/to/your/swin_t_retinanet.pth.
# Until then mmera's pre-flight check stops the run before any step with
# "teacher checkpoint (model.teacher_ckpt) not found: '<this path>'".
#   python tools/train.py configs/pkd/pkd_retinanet_swint-r50_fpn_1x_coco.py
# bash tools/dist_train.sh configs/pkd/pkd_retinanet_swint-r50_fpn_1x_coco.py
# 8
_base_ = [
    'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py',
    '../_base_/mmera_runtime.py',
]

teacher_ckpt = '{{ fileDirname }}/../../work_dirs/teacher_retinanet_swin-t_coco/teacher.pth'  # noqa: E501
model = dict(
    _delete_=True,
    type='PKDDistiller',
    student={{_base_.model}},
    teacher_config='mmdet::swin/retinanet_swin-t-p4-w7_fpn_1x_coco.py',
    teacher_ckpt=teacher_ckpt,
    distill_loss=dict(type='PearsonFeatureLoss', loss_weight=6.0),
    adapter='auto',  # a 1x1 conv only if the FPN widths differ
    levels=(0, 1, 2, 3))

# No warm-up, as in MMRazor: 1 - r is bounded (<= 2 per level).
custom_hooks = [dict(type='ExportStudentHook', filename='student_final.pth')]

# mmera's checked dataset: the samples of mmdet's CocoDataset, with errors
# that name a missing, empty or corrupt file and the key to fix.
train_dataloader = dict(dataset=dict(type='CheckedCocoDataset'))
val_dataloader = dict(dataset=dict(type='CheckedCocoDataset'))
test_dataloader = dict(dataset=dict(type='CheckedCocoDataset'))
