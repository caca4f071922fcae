# The real mini set: NEON aerial tree crowns shipped in the deepforest wheel,
# tiled by
#   python tools/dataset_converters/prepare_deepforest.py --out data/deepforest
# train/val are tiles of two crops of one site (val measures learning); the
# out-of-domain split of two other sites is used by
# `tiny/retinanet_mnv2_fpn_500it_deepforest-ood.py`.
# Paths are anchored at the repository; override with --cfg-options.
# mmdet's CocoDataset with clear data errors
dataset_type = 'CheckedCocoDataset'
data_root = '{{ fileDirname }}/../../../data/deepforest/'
metainfo = dict(classes=('Tree', ))
img_scale = (320, 320)
backend_args = None

# Resize/crop/photometric augmentation: without it the tiny teachers overfit
# the ~30 train tiles within ~200 iterations.
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='RandomResize', scale=img_scale, ratio_range=(0.8, 1.25),
         keep_ratio=True),
    dict(type='RandomCrop', crop_size=img_scale, allow_negative_crop=False),
    dict(type='RandomFlip', prob=[0.25, 0.25], direction=['horizontal',
                                                         'vertical']),
    dict(type='PhotoMetricDistortion', brightness_delta=24,
         contrast_range=(0.8, 1.2), saturation_range=(0.8, 1.2),
         hue_delta=8),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                    'scale_factor')),
]
train_dataloader = dict(
    batch_size=4,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/instances_train.json',
        data_prefix=dict(img='train/'),
        filter_cfg=dict(filter_empty_gt=True, min_size=2),
        pipeline=train_pipeline,
        backend_args=backend_args))
val_dataloader = dict(
    batch_size=4,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/instances_val.json',
        data_prefix=dict(img='val/'),
        test_mode=True,
        pipeline=test_pipeline,
        backend_args=backend_args))
test_dataloader = val_dataloader
val_evaluator = dict(
    type='CocoMetric',
    ann_file=data_root + 'annotations/instances_val.json',
    metric='bbox',
    format_only=False,
    backend_args=backend_args)
test_evaluator = val_evaluator
