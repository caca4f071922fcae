# Alias kept for the path users were told to run; the config is
# era_retinanet_r101-r50_fpn_1x_coco.py (work dir:
# work_dirs/retinanet_r101_to_r50_coco).
_base_ = './era_retinanet_r101-r50_fpn_1x_coco.py'
