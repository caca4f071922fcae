# Tiny student on the real mini set: RetinaNet, ResNet-18 at 1/4 width, from
# scratch (measured with stock mmdet: ~0.03 bbox mAP after 500 iterations).
_base_ = [
    '../_base_/models/retinanet_tiny_fpn.py',
    '../_base_/datasets/deepforest.py',
    '../_base_/schedules/adamw_cpu_500it.py',
    '../_base_/default_runtime.py',
]
model = dict(bbox_head=dict(num_classes=1))
