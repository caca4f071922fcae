# ERA with exact TWI at the least memory on COCO (docs/cost.md): all K+1
# approximations scored every step, with the main config's bottleneck
# branches (1x1 -> one 3x3 -> 1x1 at a quarter of the teacher neck's width)
# and bf16 TWI heads where the device runs bf16, and each (approximation,
# image) head pass and loss checkpointed (twi_recompute): the same loss and
# gradients at one pass's memory, for one more head forward per pass.
# Measured on the COCO pair (CPU, 2 threads, bf16): ~2.1-2.3x the floor's
# step time and ~1.4x its memory (full ERA, era-exact: 2.8x and 2.4x).
_base_ = './era_retinanet_r101-r50_fpn_1x_coco.py'

model = dict(
    twi_mode='all',
    twi_recompute=True)
