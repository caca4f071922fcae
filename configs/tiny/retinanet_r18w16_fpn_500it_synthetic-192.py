# The plain tiny RetinaNet student (retinanet_r18w16_fpn_500it_synthetic.py)
# on the synthetic set at 192 px (../_base_/datasets/synthetic_coco_192.py),
# the base of every RetinaNet config of the comparison at 192 px.
_base_ = [
    '../_base_/models/retinanet_tiny_fpn.py',
    '../_base_/datasets/synthetic_coco_192.py',
    '../_base_/schedules/adamw_cpu_500it.py',
    '../_base_/default_runtime.py',
]
model = dict(bbox_head=dict(num_classes=5))
