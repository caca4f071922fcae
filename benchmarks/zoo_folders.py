"""The mmdet zoo folders the zoo sweep takes, and why it leaves the others.

:data:`ZOO_PAIRS`: one (teacher, student) pair of config names (in the
folder, without ``.py``) per detection folder: two sizes of one family
where the folder has them (r101 -> r50, s -> tiny, ...), else one config
paired with itself (a string). :data:`PAIR_SIZES`: the image side of the
pairs that need another than the sweep's default. :data:`EXCLUDED`: every
other folder of ``mmdet/.mim/configs`` and why. A test checks that the two
cover the installed zoo exactly.
"""
from typing import Dict, Tuple, Union

ZOO_PAIRS: Dict[str, Union[str, Tuple[str, str]]] = {
    'albu_example': 'mask-rcnn_r50_fpn_albu-1x_coco',
    'atss': ('atss_r101_fpn_1x_coco', 'atss_r50_fpn_1x_coco'),
    'autoassign': 'autoassign_r50-caffe_fpn_1x_coco',
    'boxinst': ('boxinst_r101_fpn_ms-90k_coco', 'boxinst_r50_fpn_ms-90k_coco'),
    'carafe': 'faster-rcnn_r50_fpn-carafe_1x_coco',
    'cascade_rcnn': ('cascade-rcnn_r101_fpn_1x_coco',
                     'cascade-rcnn_r50_fpn_1x_coco'),
    'cascade_rpn': 'cascade-rpn_faster-rcnn_r50-caffe_fpn_1x_coco',
    'centernet': ('centernet-update_r101_fpn_8xb8-amp-lsj-200e_coco',
                  'centernet-update_r50_fpn_8xb8-amp-lsj-200e_coco'),
    'centripetalnet':
    'centripetalnet_hourglass104_16xb6-crop511-210e-mstest_coco',
    'condinst': 'condinst_r50_fpn_ms-poly-90k_coco_instance',
    'conditional_detr': 'conditional-detr_r50_8xb2-50e_coco',
    'convnext': (
        'cascade-mask-rcnn_convnext-s-p4-w7_fpn_4conv1fc-giou_amp-ms-crop-3x_coco',  # noqa: E501
        'cascade-mask-rcnn_convnext-t-p4-w7_fpn_4conv1fc-giou_amp-ms-crop-3x_coco'),  # noqa: E501
    'cornernet': 'cornernet_hourglass104_8xb6-210e-mstest_coco',
    'crowddet': 'crowddet-rcnn_r50_fpn_8xb2-30e_crowdhuman',
    'dab_detr': 'dab-detr_r50_8xb2-50e_coco',
    'dcn': ('faster-rcnn_r101-dconv-c3-c5_fpn_1x_coco',
            'faster-rcnn_r50-dconv-c3-c5_fpn_1x_coco'),
    'dcnv2': 'faster-rcnn_r50-mdconv-c3-c5_fpn_1x_coco',
    'ddod': 'ddod_r50_fpn_1x_coco',
    'ddq': 'ddq-detr-4scale_r50_8xb2-12e_coco',
    'deformable_detr': 'deformable-detr_r50_16xb2-50e_coco',
    'detectors': ('detectors_htc-r101_20e_coco', 'detectors_htc-r50_1x_coco'),
    'detr': ('detr_r101_8xb2-500e_coco', 'detr_r50_8xb2-150e_coco'),
    'dino': 'dino-4scale_r50_8xb2-12e_coco',
    'double_heads': 'dh-faster-rcnn_r50_fpn_1x_coco',
    'dyhead': 'atss_r50_fpn_dyhead_1x_coco',
    'dynamic_rcnn': 'dynamic-rcnn_r50_fpn_1x_coco',
    'efficientnet': 'retinanet_effb3_fpn_8xb4-crop896-1x_coco',
    'empirical_attention': 'faster-rcnn_r50-attn1111_fpn_1x_coco',
    'faster_rcnn': ('faster-rcnn_r101_fpn_1x_coco',
                    'faster-rcnn_r50_fpn_1x_coco'),
    'fcos': ('fcos_r101-caffe_fpn_gn-head-1x_coco',
             'fcos_r50-caffe_fpn_gn-head_1x_coco'),
    'foveabox': ('fovea_r101_fpn_4xb4-1x_coco', 'fovea_r50_fpn_4xb4-1x_coco'),
    'fpg': ('retinanet_r50_fpg_crop640_50e_coco',
            'retinanet_r50_fpg-chn128_crop640_50e_coco'),
    'free_anchor': ('freeanchor_r101_fpn_1x_coco',
                    'freeanchor_r50_fpn_1x_coco'),
    'fsaf': ('fsaf_r101_fpn_1x_coco', 'fsaf_r50_fpn_1x_coco'),
    'gcnet': ('mask-rcnn_r101-gcb-r4-c3-c5_fpn_1x_coco',
              'mask-rcnn_r50-gcb-r4-c3-c5_fpn_1x_coco'),
    'gfl': ('gfl_r101_fpn_ms-2x_coco', 'gfl_r50_fpn_1x_coco'),
    'ghm': ('retinanet_r101_fpn_ghm-1x_coco', 'retinanet_r50_fpn_ghm-1x_coco'),
    'gn': ('mask-rcnn_r101_fpn_gn-all_2x_coco',
           'mask-rcnn_r50_fpn_gn-all_2x_coco'),
    'gn+ws': ('faster-rcnn_r101_fpn_gn-ws-all_1x_coco',
              'faster-rcnn_r50_fpn_gn-ws-all_1x_coco'),
    'grid_rcnn': ('grid-rcnn_r101_fpn_gn-head_2x_coco',
                  'grid-rcnn_r50_fpn_gn-head_2x_coco'),
    'groie': 'mask-rcnn_r50_fpn_groie_1x_coco',
    'guided_anchoring': ('ga-retinanet_r101-caffe_fpn_1x_coco',
                         'ga-retinanet_r50-caffe_fpn_1x_coco'),
    'hrnet': ('fcos_hrnetv2p-w32-gn-head_4xb4-1x_coco',
              'fcos_hrnetv2p-w18-gn-head_4xb4-1x_coco'),
    'htc': ('htc_r101_fpn_20e_coco', 'htc_r50_fpn_1x_coco'),
    'instaboost': ('mask-rcnn_r101_fpn_instaboost-4x_coco',
                   'mask-rcnn_r50_fpn_instaboost-4x_coco'),
    'libra_rcnn': ('libra-faster-rcnn_r101_fpn_1x_coco',
                   'libra-faster-rcnn_r50_fpn_1x_coco'),
    'mask2former': ('mask2former_r101_8xb2-lsj-50e_coco',
                    'mask2former_r50_8xb2-lsj-50e_coco'),
    'mask_rcnn': ('mask-rcnn_r101_fpn_1x_coco', 'mask-rcnn_r50_fpn_1x_coco'),
    'maskformer': 'maskformer_r50_ms-16xb1-75e_coco',
    'ms_rcnn': ('ms-rcnn_r101-caffe_fpn_1x_coco',
                'ms-rcnn_r50-caffe_fpn_1x_coco'),
    'nas_fcos': 'nas-fcos_r50-caffe_fpn_nashead-gn-head_4xb4-1x_coco',
    'nas_fpn': 'retinanet_r50_nasfpn_crop640-50e_coco',
    'paa': ('paa_r101_fpn_1x_coco', 'paa_r50_fpn_1x_coco'),
    'pafpn': 'faster-rcnn_r50_pafpn_1x_coco',
    'panoptic_fpn': ('panoptic-fpn_r101_fpn_1x_coco',
                     'panoptic-fpn_r50_fpn_1x_coco'),
    'pisa': ('retinanet_x101-32x4d_fpn_pisa_1x_coco',
             'retinanet-r50_fpn_pisa_1x_coco'),
    'point_rend': 'point-rend_r50-caffe_fpn_ms-1x_coco',
    'pvt': ('retinanet_pvtv2-b1_fpn_1x_coco',
            'retinanet_pvtv2-b0_fpn_1x_coco'),
    'queryinst': ('queryinst_r101_fpn_ms-480-800-3x_coco',
                  'queryinst_r50_fpn_ms-480-800-3x_coco'),
    'regnet': ('retinanet_regnetx-1.6GF_fpn_1x_coco',
               'retinanet_regnetx-800MF_fpn_1x_coco'),
    'reppoints': ('reppoints-moment_r101_fpn-gn_head-gn_2x_coco',
                  'reppoints-moment_r50_fpn-gn_head-gn_2x_coco'),
    'res2net': 'faster-rcnn_res2net-101_fpn_2x_coco',
    'resnest': ('faster-rcnn_s101_fpn_syncbn-backbone+head_ms-range-1x_coco',
                'faster-rcnn_s50_fpn_syncbn-backbone+head_ms-range-1x_coco'),
    'resnet_strikes_back': 'retinanet_r50-rsb-pre_fpn_1x_coco',
    'retinanet': ('retinanet_r101_fpn_1x_coco', 'retinanet_r50_fpn_1x_coco'),
    'rpn': ('rpn_r101_fpn_1x_coco', 'rpn_r50_fpn_1x_coco'),
    'rtmdet': ('rtmdet_s_8xb32-300e_coco', 'rtmdet_tiny_8xb32-300e_coco'),
    'sabl': ('sabl-retinanet_r101_fpn_1x_coco',
             'sabl-retinanet_r50_fpn_1x_coco'),
    'scnet': ('scnet_r101_fpn_20e_coco', 'scnet_r50_fpn_1x_coco'),
    'scratch': 'faster-rcnn_r50-scratch_fpn_gn-all_6x_coco',
    'seesaw_loss': (
        'mask-rcnn_r101_fpn_seesaw-loss_random-ms-2x_lvis-v1',
        'mask-rcnn_r50_fpn_seesaw-loss_random-ms-2x_lvis-v1'),
    'selfsup_pretrain': 'mask-rcnn_r50-mocov2-pre_fpn_1x_coco',
    'simple_copy_paste':
    'mask-rcnn_r50_fpn_rpn-2conv_4conv1fc_syncbn-all_32xb2-ssj-90k_coco',
    'solo': ('solo_r50_fpn_1x_coco', 'solo_r18_fpn_8xb8-lsj-200e_coco'),
    'solov2': ('solov2_r101_fpn_ms-3x_coco', 'solov2_r50_fpn_ms-3x_coco'),
    'sparse_rcnn': ('sparse-rcnn_r101_fpn_ms-480-800-3x_coco',
                    'sparse-rcnn_r50_fpn_ms-480-800-3x_coco'),
    'ssd': ('ssd512_coco', 'ssd300_coco'),
    'strong_baselines':
    'mask-rcnn_r50_fpn_rpn-2conv_4conv1fc_syncbn-all_lsj-100e_coco',
    'swin': ('mask-rcnn_swin-s-p4-w7_fpn_amp-ms-crop-3x_coco',
             'mask-rcnn_swin-t-p4-w7_fpn_amp-ms-crop-3x_coco'),
    'timm_example': 'retinanet_timm-tv-resnet50_fpn_1x_coco',
    'tood': ('tood_r101_fpn_ms-2x_coco', 'tood_r50_fpn_ms-2x_coco'),
    'tridentnet': 'tridentnet_r50-caffe_1x_coco',
    'vfnet': ('vfnet_r101_fpn_1x_coco', 'vfnet_r50_fpn_1x_coco'),
    'yolact': ('yolact_r101_1xb8-55e_coco', 'yolact_r50_1xb8-55e_coco'),
    'yolo': ('yolov3_d53_8xb8-320-273e_coco',
             'yolov3_mobilenetv2_8xb24-320-300e_coco'),
    'yolof': 'yolof_r50-c5_8xb8-1x_coco',
    'yolox': ('yolox_s_8xb8-300e_coco', 'yolox_tiny_8xb8-300e_coco'),
}

#: folder -> image side, where the default one does not fit the detector
#: (SSD's fixed anchor grid, CornerNet's hourglass)
PAIR_SIZES: Dict[str, int] = {'ssd': 512, 'centripetalnet': 256,
                              'cornernet': 256, 'ddod': 320,
                              # 900 queries picked from the encoder's
                              # tokens: fewer than that at 160 px
                              'dino': 256, 'ddq': 256}

_DATASET = ('the same detectors as the COCO folders, configured for another '
            'data set ({})')
_TRACKING = 'multi-object tracking / video: a tracker around a detector'
_GROUNDING = ('open-vocabulary grounding: a text encoder (BERT) the probe '
              'cannot build offline, and text prompts in the data')

EXCLUDED: Dict[str, str] = {
    '_base_': 'runtime base only, no model',
    'common': 'data and schedule bases only, no model',
    'dsdl': 'data set definitions (DSDL) only, no model',
    'cityscapes': _DATASET.format('Cityscapes'),
    'deepfashion': _DATASET.format('DeepFashion'),
    'lvis': _DATASET.format('LVIS'),
    'objects365': _DATASET.format('Objects365'),
    'openimages': _DATASET.format('OpenImages'),
    'pascal_voc': _DATASET.format('Pascal VOC'),
    'wider_face': _DATASET.format('WIDER FACE'),
    'v3det': _DATASET.format('V3Det'),
    'legacy_1.x': ('mmdet 1.x conventions of the RetinaNet, Faster/Mask/'
                   'Cascade R-CNN and SSD detectors, for their old '
                   'checkpoints: the same detectors as their folders'),
    'misc': 'wraps detectron2 models (Detectron2Wrapper): no mmdet detector',
    'fast_rcnn': ('takes precomputed proposals (a proposal file) as input, '
                  'which a distiller does not produce'),
    'ld': "mmdet's LD distiller itself: the LD column is that method",
    'lad': ('a distillation detector with its own teacher inside (LAD, '
            'label assignment distillation)'),
    'soft_teacher': 'semi-supervised (a teacher-student detector itself)',
    'glip': _GROUNDING,
    'grounding_dino': _GROUNDING,
    'mm_grounding_dino': _GROUNDING,
    'bytetrack': _TRACKING,
    'deepsort': _TRACKING,
    'ocsort': _TRACKING,
    'qdtrack': _TRACKING,
    'sort': _TRACKING,
    'strongsort': _TRACKING,
    'masktrack_rcnn': _TRACKING,
    'mask2former_vis': 'video instance segmentation (YouTube-VIS)',
    'reid': 'person re-identification, not a detector',
}


#: teacher -> student pairs across detector families or backbones, which
#: no folder's pair covers: name -> (teacher, student), zoo paths
CROSS_PAIRS: Dict[str, Tuple[str, str]] = {
    'Faster R-CNN R101 -> RetinaNet R50': (
        'faster_rcnn/faster-rcnn_r101_fpn_1x_coco.py',
        'retinanet/retinanet_r50_fpn_1x_coco.py'),
    'RetinaNet R101 -> DETR R50': ('retinanet/retinanet_r101_fpn_1x_coco.py',
                                   'detr/detr_r50_8xb2-150e_coco.py'),
    'RetinaNet Swin-T -> R50': ('swin/retinanet_swin-t-p4-w7_fpn_1x_coco.py',
                                'retinanet/retinanet_r50_fpn_1x_coco.py'),
    'RTMDet-l ConvNeXt-B -> RTMDet-m': (
        'rtmdet/rtmdet_l_convnext_b_4xb32-100e_coco.py',
        'rtmdet/rtmdet_m_8xb32-300e_coco.py'),
}


def folder_pair(folder: str) -> Tuple[str, str]:
    """A folder's (teacher, student) as zoo paths (``'atss/atss_....py'``),
    or those of a :data:`CROSS_PAIRS` name."""
    if folder in CROSS_PAIRS:
        return CROSS_PAIRS[folder]
    pair = ZOO_PAIRS[folder]
    teacher, student = (pair, pair) if isinstance(pair, str) else pair
    return f'{folder}/{teacher}.py', f'{folder}/{student}.py'
