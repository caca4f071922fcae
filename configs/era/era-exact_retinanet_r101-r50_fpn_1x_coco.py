# Full ERA on COCO, as ported from the paper (docs/era.md): K=4 full-width
# MBRNet branches of two 3x3 conv blocks, and all K+1 approximations scored
# by the frozen teacher head every step, in float32. The main config
# (era_retinanet_r101-r50_fpn_1x_coco.py) is ERA's cheap setting: bottleneck
# branches, one sampled approximation per step, bf16 TWI heads where the
# device runs bf16 (docs/cost.md: what each costs).
_base_ = './era_retinanet_r101-r50_fpn_1x_coco.py'

model = dict(
    mbrnet=dict(num_blocks=2, bottleneck_ratio=None),
    twi_mode='all',
    twi_precision='fp32')
