# A tiny Faster R-CNN for 2-CPU-core experiments, the two-stage counterpart of
# retinanet_tiny_fpn.py: mmdet's Faster R-CNN with a narrow ResNet-18 trained
# from scratch, a 64-channel FPN (P2-P6), an RPN of 64 channels with anchors
# at half mmdet's scale (the embedded sets' objects are 10-130 px at 320 px
# input) and a small RoI box head (two 128-wide FCs), fewer proposals.
_base_ = 'mmdet::_base_/models/faster-rcnn_r50_fpn.py'

model = dict(
    backbone=dict(
        depth=18,
        base_channels=16,  # widths 16, 32, 64, 128
        # trained from scratch: BN must learn its statistics
        frozen_stages=-1,
        norm_eval=False,
        init_cfg=None),
    neck=dict(in_channels=[16, 32, 64, 128], out_channels=64),
    rpn_head=dict(
        in_channels=64,
        feat_channels=64,
        anchor_generator=dict(scales=[4])),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=64),
        bbox_head=dict(in_channels=64, fc_out_channels=128, num_classes=80)),
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=1000, max_per_img=500),
        rcnn=dict(sampler=dict(num=256))),
    test_cfg=dict(
        rpn=dict(nms_pre=500, max_per_img=300),
        rcnn=dict(score_thr=0.05, max_per_img=100)))
