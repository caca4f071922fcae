# The synthetic COCO-format set (synthetic_coco.py) resized to 192 px instead
# of 320 (the 320 px images' objects: 8 to 165 px, median 36, so 5 to 99 px
# here): a model's step costs under half, which lets the plateau study double
# its schedules further. Every run of a comparison at 192 px (plain, longer
# and distilled students, the teacher) is trained and tested at 192 px alike.
_base_ = './synthetic_coco.py'

img_scale = (192, 192)
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                    'scale_factor')),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
