# mmdet's runtime, mmera's runner and registration, iteration-based logging.
_base_ = ['mmdet::_base_/default_runtime.py', './mmera_runtime.py']

default_hooks = dict(
    # validation metrics stamped with the iteration (mmengine stamps them
    # with the epoch by default: always 0 in an iteration-based loop)
    logger=dict(type='LoggerHook', interval=25, log_metric_by_epoch=False),
    checkpoint=dict(
        type='CheckpointHook', by_epoch=False, interval=250, max_keep_ckpts=2,
        save_best='coco/bbox_mAP', rule='greater'))
log_processor = dict(type='LogProcessor', window_size=25, by_epoch=False)
