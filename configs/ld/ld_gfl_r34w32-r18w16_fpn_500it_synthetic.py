# LD (Localization Distillation) on the synthetic set, with mmdet's own
# detector: KnowledgeDistillationSingleStageDetector with LDHead, as mmdet's
# configs/ld/ld_r18-gflv1-r101_fpn_1x_coco.py. The model is the tiny GFL
# student (R18 x1/4) with its GFLHead turned into an LDHead (mmdet's
# loss_ld: KL of the box-side distributions, T = 10, weight 0.25); the
# teacher is the tiny GFL teacher (R34 x1/2), built and loaded by mmdet's
# detector itself, in its __init__, from
#   make teachers DATA=synthetic DETECTORS=gfl
#   (= python -m benchmarks.train_teachers --data synthetic --detectors gfl)
# which trains the tiny teacher and writes exactly the path below,
# work_dirs/teacher_gfl_synthetic/teacher.pth
# (override with --cfg-options model.teacher_ckpt=...).
# Checkpoints hold the student only (backbone, neck, bbox_head): LDHead has
# GFLHead's weights, so they load into the plain student config.
# data, schedule and runtime of the student
_base_ = '../tiny/gfl_r18w16_fpn_500it_synthetic.py'
teacher = '{{ fileDirname }}/../tiny/gfl_r34w32_fpn_3000it_synthetic.py'
model = dict(
    type='KnowledgeDistillationSingleStageDetector',
    teacher_config=teacher,
    teacher_ckpt='{{ fileDirname }}/../../work_dirs/teacher_gfl_synthetic/teacher.pth',  # noqa: E501
    bbox_head=dict(
        type='LDHead',
        loss_ld=dict(
            type='KnowledgeDistillationKLDivLoss', loss_weight=0.25, T=10)))
