# ERA's cheap setting, the defaults of ERADistiller and MBRNet, on the
# DeepForest mini set (make demo DATA=deepforest): bottleneck MBRNet
# branches at a quarter of the teacher's width, one sampled TWI pass per
# step, TWI heads under bf16 where the device runs bf16.
_base_ = './era_retinanet_mnv2-r18w16_fpn_500it_deepforest.py'

model = dict(
    mbrnet=dict(num_blocks=1, bottleneck_ratio=0.25),
    twi_mode='sampled',
    twi_precision='auto')
