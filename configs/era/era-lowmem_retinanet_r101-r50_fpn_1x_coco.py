# ERA with exact TWI at the least memory on COCO (docs/cost.md): all
# K+1 approximations scored every step, as the main
# config does, with
# - MBRNet branches as bottlenecks: 1x1 -> one 3x3 -> 1x1 at a quarter of
#   the teacher neck's width (64 of 256 channels);
# - the frozen TWI head's forward under bf16 autocast (float32 outputs);
# - each (approximation, image) head pass and loss checkpointed
#   (twi_recompute): the same loss and gradients at one pass's memory, for
#   one more bf16 head forward per pass.
# Measured on the COCO pair (CPU, 2 threads): ~2.1-2.3x the floor's step
# time and ~1.4x its memory (the main config: 2.8x and 2.4x).
_base_ = './era_retinanet_r101-r50_fpn_1x_coco.py'

model = dict(
    mbrnet=dict(num_blocks=1, bottleneck_channels=64),
    twi_precision='bf16',
    twi_recompute=True)
