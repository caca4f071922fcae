# Tiny teacher: RTMDet-tiny's backbone and neck widths (CSPNeXt deepen 0.167,
# widen 0.375: stem 24, stages 48-384; 96-channel CSPNeXtPAFPN and head) on
# the synthetic set. Its neck is wider than the student's (96 vs 64
# channels), so a feature distiller needs an adapter.
_base_ = './rtmdet_cspnextw16_cspnextpafpn_500it_synthetic.py'
model = dict(
    backbone=dict(widen_factor=0.375),
    neck=dict(in_channels=[96, 192, 384], out_channels=96),
    bbox_head=dict(in_channels=96, feat_channels=96))
