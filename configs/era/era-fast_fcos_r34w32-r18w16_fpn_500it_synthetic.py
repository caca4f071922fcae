# ERA's cheap setting on the tiny FCOS pair (see era-fast_retinanet_r101-r50_fpn_1x_coco.py):
# bottleneck MBRNet branches at a quarter of the 64-channel neck, one sampled
# TWI pass on a random half of the steps, TWI heads under bf16.
# Its accuracy against full ERA: tools/benchmark/detector_families.py
# --families fcos (the era-fast rows).
_base_ = './era-sampled_fcos_r34w32-r18w16_fpn_500it_synthetic.py'

model = dict(twi_probability=0.5)
