# A tiny RetinaNet for 2-CPU-core experiments: mmdet's RetinaNet with a narrow
# ResNet-18, a 64-channel FPN and a 2-conv head. Anchors start at 2x the
# stride (mmdet's default is 4x) because the embedded sets' objects are
# 10-130 px at 320 px input.
_base_ = 'mmdet::_base_/models/retinanet_r50_fpn.py'

model = dict(
    backbone=dict(
        depth=18,
        base_channels=16,  # widths 16, 32, 64, 128
        # trained from scratch: BN must learn its statistics
        frozen_stages=-1,
        norm_eval=False,
        init_cfg=None),
    neck=dict(
        in_channels=[16, 32, 64, 128],
        out_channels=64,
        start_level=1,
        add_extra_convs='on_input',
        num_outs=5),
    bbox_head=dict(
        num_classes=80,
        in_channels=64,
        feat_channels=64,
        stacked_convs=2,
        anchor_generator=dict(octave_base_scale=2)),
    test_cfg=dict(nms_pre=500, score_thr=0.05, max_per_img=100))
