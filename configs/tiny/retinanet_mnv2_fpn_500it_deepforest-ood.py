# The deepforest teacher evaluated by tools/test.py on the out-of-domain split
# (OSBS_029 and SOAP_061, sites the train/val tiles do not show).
_base_ = './retinanet_mnv2_fpn_500it_deepforest.py'

ood_root = '{{ fileDirname }}/../../data/deepforest/'
test_dataloader = dict(
    dataset=dict(
        ann_file='annotations/instances_test.json',
        data_prefix=dict(img='test/')))
test_evaluator = dict(ann_file=ood_root + 'annotations/instances_test.json')
