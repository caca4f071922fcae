# PKD on COCO, ConvNeXt teacher -> CNN student: RTMDet-l with mmpretrain's
# ConvNeXt-B backbone (teacher, mmdet's
# `rtmdet/rtmdet_l_convnext_b_4xb32-100e_coco.py`) -> RTMDet-m (student,
# 49.1 AP stock), mmdet's 300-epoch schedule.
# The teacher gets its own normalisation (RGB, ImageNet mean/std, as its
# config's data_preprocessor says) while the RTMDet student reads BGR with
# its own mean/std: mmera's TeacherInputs converts the student's batch to
# the teacher's. Pearson-correlation imitation of all 3 PAFPN outputs
# (strides 8-32: RTMDet has no P6/P7, so MMRazor's "outputs 0-3" become all
# levels), weight 6 per level. A 1x1 adapter per level: the widths differ
# (the student's 192-ch PAFPN -> the teacher's 256-ch one, which takes
# ConvNeXt's 256/512/1024-ch stages). Both heads are mmdet's RTMDetSepBNHead
# (the teacher's with GN, the student's with BN); PKD imitates the PAFPN
# outputs only and never runs the teacher's head. The student is mmdet's
# config unchanged (its EMAHook and PipelineSwitchHook included).
#
# TEACHER CHECKPOINT: the one mmdet's rtmdet/metafile.yml gives for this
# config (box AP 53.1, 100 epochs). Unlike the other RTMDet weights it is not
# on download.openmmlab.com but on a contributor's GitHub release
# (orange0-jp/orange-weights); to use your own teacher instead, pass
# --cfg-options model.teacher_ckpt=/path/to/your/rtmdet_convnext_b.pth.
# The teacher config has custom_imports=['mmpretrain.models'] (its backbone
# is `mmpretrain.ConvNeXt`), and mmpretrain imports torchvision: install
# mmpretrain and a torchvision that matches your torch, or building the
# teacher stops with an ImportError that names the missing module.
# python tools/train.py
# configs/pkd/pkd_rtmdet_convnextb-m_cspnextpafpn_300e_coco.py
# bash tools/dist_train.sh
# configs/pkd/pkd_rtmdet_convnextb-m_cspnextpafpn_300e_coco.py 8
_base_ = [
    'mmdet::rtmdet/rtmdet_m_8xb32-300e_coco.py',
    '../_base_/mmera_runtime.py',
]

teacher_ckpt = 'https://github.com/orange0-jp/orange-weights/releases/download/v0.1.0rtmdet-swin-convnext/rtmdet_l_convnext_b_4xb32-100e_coco-d4731b3d.pth'  # noqa: E501
model = dict(
    _delete_=True,
    type='PKDDistiller',
    student={{_base_.model}},
    teacher_config='mmdet::rtmdet/rtmdet_l_convnext_b_4xb32-100e_coco.py',
    teacher_ckpt=teacher_ckpt,
    distill_loss=dict(type='PearsonFeatureLoss', loss_weight=6.0),
    adapter='auto',  # a 1x1 conv only if the widths differ
    levels=None)  # all 3 levels (strides 8, 16, 32)

# mmdet's RTMDet hooks (EMAHook, PipelineSwitchHook to the stage-2 pipeline
# for the last 20 epochs) stay; mmera's are added. `_base_.custom_hooks`
# reads the inherited list (mmengine's python-style base-variable access).
custom_hooks = _base_.custom_hooks + [
    # No warm-up, as in MMRazor: 1 - r is bounded (<= 2 per level).
    # writes the EMA student (the weights mmdet evaluates and saves)
    dict(type='ExportStudentHook', filename='student_final.pth'),
]

# mmera's checked dataset: the samples of mmdet's CocoDataset, with errors
# that name a missing, empty or corrupt file and the key to fix.
train_dataloader = dict(dataset=dict(type='CheckedCocoDataset'))
val_dataloader = dict(dataset=dict(type='CheckedCocoDataset'))
test_dataloader = dict(dataset=dict(type='CheckedCocoDataset'))
