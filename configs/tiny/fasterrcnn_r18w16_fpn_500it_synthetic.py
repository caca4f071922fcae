# Tiny student: Faster R-CNN, ResNet-18 at 1/4 width, on the synthetic set
# (the data, schedule and runtime of retinanet_r18w16_fpn_500it_synthetic.py).
_base_ = [
    '../_base_/models/faster_rcnn_tiny_fpn.py',
    '../_base_/datasets/synthetic_coco.py',
    '../_base_/schedules/adamw_cpu_500it.py',
    '../_base_/default_runtime.py',
]
model = dict(roi_head=dict(bbox_head=dict(num_classes=5)))
