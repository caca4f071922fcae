# A tiny FCOS for 2-CPU-core experiments, the FCOS counterpart of
# retinanet_tiny_fpn.py: mmdet's FCOS (the GN head of
# mmdet::fcos/fcos_r50-caffe_fpn_gn-head_1x_coco.py) with a narrow ResNet-18
# trained from scratch (pytorch style, BN, torchvision mean/std), a 64-channel
# FPN (P3-P7, extra levels on P5's output) and a 2-conv head. Points at
# strides 8..128; the regression ranges are half mmdet's (as the RetinaNet
# base halves its anchors) because the embedded sets' objects are 10-130 px
# at 320 px input: P3 takes objects up to ~64 px, P4 up to ~128 px.
model = dict(
    type='FCOS',
    data_preprocessor=dict(
        type='DetDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_size_divisor=32),
    backbone=dict(
        type='ResNet',
        depth=18,
        base_channels=16,  # widths 16, 32, 64, 128
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        # trained from scratch: BN must learn its statistics
        frozen_stages=-1,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=False,
        style='pytorch',
        init_cfg=None),
    neck=dict(
        type='FPN',
        in_channels=[16, 32, 64, 128],
        out_channels=64,
        start_level=1,
        add_extra_convs='on_output',  # P6 from P5, as mmdet's FCOS
        num_outs=5,
        relu_before_extra_convs=True),
    bbox_head=dict(
        type='FCOSHead',
        num_classes=80,
        in_channels=64,
        stacked_convs=2,
        feat_channels=64,
        strides=[8, 16, 32, 64, 128],
        regress_ranges=((-1, 32), (32, 64), (64, 128), (128, 256),
                        (256, 1e8)),
        norm_cfg=dict(type='GN', num_groups=32, requires_grad=True),
        loss_cls=dict(
            type='FocalLoss',
            use_sigmoid=True,
            gamma=2.0,
            alpha=0.25,
            loss_weight=1.0),
        loss_bbox=dict(type='IoULoss', loss_weight=1.0),
        loss_centerness=dict(
            type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0)),
    test_cfg=dict(
        nms_pre=500,
        min_bbox_size=0,
        score_thr=0.05,
        nms=dict(type='nms', iou_threshold=0.5),
        max_per_img=100))
