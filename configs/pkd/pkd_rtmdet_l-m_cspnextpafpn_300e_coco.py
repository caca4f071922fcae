# PKD on COCO: RTMDet-l (teacher, 51.3 AP) -> RTMDet-m (student, 49.1 AP
# stock), mmdet's 300-epoch schedule.
# Pearson-correlation imitation of all 3 PAFPN outputs (strides 8-32: RTMDet
# has no P6/P7, so MMRazor's "outputs 0-3" become all levels), weight 6 per
# level. A 1x1 adapter per level: the widths differ (192 -> 256). The student
# is mmdet's config unchanged (its EMAHook and PipelineSwitchHook included);
# the teacher is built from its mmdet config and the model-zoo checkpoint.
#   python tools/train.py configs/pkd/pkd_rtmdet_l-m_cspnextpafpn_300e_coco.py
# bash tools/dist_train.sh
# configs/pkd/pkd_rtmdet_l-m_cspnextpafpn_300e_coco.py 8
_base_ = [
    'mmdet::rtmdet/rtmdet_m_8xb32-300e_coco.py',
    '../_base_/mmera_runtime.py',
]

teacher_ckpt = 'https://download.openmmlab.com/mmdetection/v3.0/rtmdet/rtmdet_l_8xb32-300e_coco/rtmdet_l_8xb32-300e_coco_20220719_112030-5a0be7c4.pth'  # noqa: E501
model = dict(
    _delete_=True,
    type='PKDDistiller',
    student={{_base_.model}},
    teacher_config='mmdet::rtmdet/rtmdet_l_8xb32-300e_coco.py',
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
