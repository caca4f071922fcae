# ERA on COCO: RTMDet-l (teacher, 51.3 AP) -> RTMDet-m (student, 49.1 AP
# stock), mmdet's 300-epoch schedule.
# MBRNet maps the student's 3 PAFPN outputs (192-ch) to the teacher's (256-ch).
# The student is mmdet's config unchanged (its EMAHook and PipelineSwitchHook
# included); the teacher is built from its mmdet config and the model-zoo
# checkpoint.
#   python tools/train.py configs/era/era_rtmdet_l-m_cspnextpafpn_300e_coco.py
# bash tools/dist_train.sh
# configs/era/era_rtmdet_l-m_cspnextpafpn_300e_coco.py 8
_base_ = [
    'mmdet::rtmdet/rtmdet_m_8xb32-300e_coco.py',
    '../_base_/mmera_runtime.py',
]

teacher_ckpt = 'https://download.openmmlab.com/mmdetection/v3.0/rtmdet/rtmdet_l_8xb32-300e_coco/rtmdet_l_8xb32-300e_coco_20220719_112030-5a0be7c4.pth'  # noqa: E501
model = dict(
    _delete_=True,
    type='ERADistiller',
    student={{_base_.model}},
    teacher_config='mmdet::rtmdet/rtmdet_l_8xb32-300e_coco.py',
    teacher_ckpt=teacher_ckpt,
    # ERA's cheap setting (docs/cost.md): K=4 bottleneck branches, 1x1 ->
    # one 3x3 -> 1x1 at a quarter of the teacher's width, GN (detection
    # batch sizes are small)
    mbrnet=dict(
        num_branches=4,
        num_blocks=1,
        bottleneck_ratio=0.25,
        norm_cfg=dict(type='GN', num_groups=32, requires_grad=True),
        feature_norm='teacher_std'),
    mimic_weight=5.0,
    residual_weight=1.0,
    twi_weight=1.0,
    # one sampled approximation scored per step (weight x(K+1), unbiased);
    # 'all' scores all K+1 (head passes x(K+1))
    twi_mode='sampled',
    # the frozen TWI head in bf16 where the device runs bf16 natively
    twi_precision='auto',
    # the heads differ in width: the student head starts as mmdet's does
    init_student_head=False,
    inference_mode='S')

# mmdet's RTMDet hooks (EMAHook, PipelineSwitchHook to the stage-2 pipeline
# for the last 20 epochs) stay; mmera's are added. `_base_.custom_hooks`
# reads the inherited list (mmengine's python-style base-variable access).
custom_hooks = _base_.custom_hooks + [
    dict(type='DistillLossWarmupHook', warmup_iters=1000),
    # ST-mode COCO AP for each alpha after every validation. Priority 48:
    # before EMAHook (49) swaps the raw weights back after validation, so
    # the sweep blends the EMA weights that the validation measured.
    dict(
        type='AlphaSweepHook',
        alphas=[0.0, 0.1, 0.3, 0.5, 1.0],
        priority=48),
    # writes the EMA student (the weights mmdet evaluates and saves)
    dict(type='ExportStudentHook', filename='student_final.pth'),
]

# mmera's checked dataset: the samples of mmdet's CocoDataset, with errors
# that name a missing, empty or corrupt file and the key to fix.
train_dataloader = dict(dataset=dict(type='CheckedCocoDataset'))
val_dataloader = dict(dataset=dict(type='CheckedCocoDataset'))
test_dataloader = dict(dataset=dict(type='CheckedCocoDataset'))
