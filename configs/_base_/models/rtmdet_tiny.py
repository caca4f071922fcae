# A tiny RTMDet for 2-CPU-core experiments: mmdet's RTMDet
# (mmdet::rtmdet/rtmdet_tiny_8xb32-300e_coco.py: CSPNeXt backbone,
# CSPNeXtPAFPN, RTMDetSepBNHead with shared convs, point priors at strides
# 8/16/32, DynamicSoftLabelAssigner), trained from scratch with plain BN (no
# SyncBN on CPU). The depth is rtmdet-tiny's (deepen 0.167); the width here
# is the student's, 2/3 of rtmdet-tiny (widen 0.25: stem 16, stages 32-256)
# with a 64-channel PAFPN and a 2-conv 64-channel head. Point priors need no
# rescaling for the embedded sets' 10-130 px objects at 320 px (the
# assigner's centre prior and the per-level strides cover them). RTMDet's
# own BGR mean/std (bgr_to_rgb=False) are kept.
model = dict(
    type='RTMDet',
    data_preprocessor=dict(
        type='DetDataPreprocessor',
        mean=[103.53, 116.28, 123.675],
        std=[57.375, 57.12, 58.395],
        bgr_to_rgb=False,
        pad_size_divisor=32,
        batch_augments=None),
    backbone=dict(
        type='CSPNeXt',
        arch='P5',
        expand_ratio=0.5,
        deepen_factor=0.167,
        widen_factor=0.25,  # stem 16, stages 32, 64, 128, 256
        channel_attention=True,
        norm_cfg=dict(type='BN'),
        act_cfg=dict(type='SiLU', inplace=True),
        init_cfg=None),
    neck=dict(
        type='CSPNeXtPAFPN',
        in_channels=[64, 128, 256],
        out_channels=64,
        num_csp_blocks=1,
        expand_ratio=0.5,
        norm_cfg=dict(type='BN'),
        act_cfg=dict(type='SiLU', inplace=True)),
    bbox_head=dict(
        type='RTMDetSepBNHead',
        num_classes=80,
        in_channels=64,
        stacked_convs=2,
        feat_channels=64,
        anchor_generator=dict(
            type='MlvlPointGenerator', offset=0, strides=[8, 16, 32]),
        bbox_coder=dict(type='DistancePointBBoxCoder'),
        loss_cls=dict(
            type='QualityFocalLoss',
            use_sigmoid=True,
            beta=2.0,
            loss_weight=1.0),
        loss_bbox=dict(type='GIoULoss', loss_weight=2.0),
        with_objectness=False,
        exp_on_reg=False,
        share_conv=True,
        pred_kernel_size=1,
        norm_cfg=dict(type='BN'),
        act_cfg=dict(type='SiLU', inplace=True)),
    train_cfg=dict(
        assigner=dict(type='DynamicSoftLabelAssigner', topk=13),
        allowed_border=-1,
        pos_weight=-1,
        debug=False),
    test_cfg=dict(
        nms_pre=500,
        min_bbox_size=0,
        score_thr=0.05,
        nms=dict(type='nms', iou_threshold=0.65),
        max_per_img=100))
