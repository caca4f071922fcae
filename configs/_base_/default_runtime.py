# mmdet's runtime plus mmera's registration and iteration-based logging.
_base_ = 'mmdet::_base_/default_runtime.py'

custom_imports = dict(imports=['mmera'], allow_failed_imports=False)

# Checkpoints written atomically (never half-written), resumable exactly
# (RNG state included). The 'mmdet.' scope lets stock mmdet/mim tools find it.
runner_type = 'mmdet.AtomicCheckpointRunner'

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=25),
    checkpoint=dict(
        type='CheckpointHook', by_epoch=False, interval=250, max_keep_ckpts=2,
        save_best='coco/bbox_mAP', rule='greater'))
log_processor = dict(type='LogProcessor', window_size=25, by_epoch=False)
