"""The models of the train-step cost benchmark (:mod:`benchmarks.step_cost`).

:func:`build_model` builds one mode (the student, a distiller floor, an ERA
setting, LD) of a teacher -> student pair and :func:`run_single` times it
with :func:`mmera.analysis.step_timer.time_train_steps` on ONE fixed random
batch. Weights are random; nothing downloads.
"""
import resource
import statistics
from typing import Dict, Optional, Tuple

import torch
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmdet.structures.bbox import HorizontalBoxes
from mmengine.config import Config, ConfigDict
from mmengine.model import BaseModel
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData
from torch import nn

import mmera  # noqa: F401  (registers ERADistiller)
from mmera.analysis.step_timer import time_train_steps
from mmera.models import load_model_config

from .paths import repo_path

#: The modes, in the default order.
MODES = ('student', 'floor', 'era_all', 'era_sampled', 'era_last',
         'era_notwi', 'era_cheap', 'ld')
#: what an ERA mode may add, ``+``-joined (e.g. ``era_all+bottleneck+bf16``):
#: ``bottleneck`` MBRNet branches (1x1 -> one 3x3 -> 1x1 at a quarter of the
#: teacher neck's width), ``bf16`` the TWI heads' forward under autocast,
#: ``halftwi`` TWI on half the steps (``twi_probability=0.5``; a timed
#: median then mixes steps with and without it: read the mean),
#: ``recompute`` each approximation's head pass checkpointed
#: (``twi_recompute=True``: exact TWI at one head pass's memory)
VARIANTS = ('bottleneck', 'bf16', 'halftwi', 'recompute')
#: ``era_cheap``, the ``configs/era/era-fast_*`` setting: one sampled TWI
#: pass (``twi_mode='sampled'``) per step under bf16, bottleneck MBRNet
#: branches (``+halftwi`` on top kept too little of ERA's gain)
CHEAP = ('bottleneck', 'bf16')
#: the cost goals of the modes by their base: the most step time
#: as a ratio to the floor's, and for ``era_all`` the most memory above the
#: imports as a ratio to the floor's
GOALS = {'era_cheap': dict(time=1.25), 'era_sampled': dict(time=1.5),
         'era_all': dict(time=2.75, memory=1.6)}
#: the ``halftwi`` variant's (and ``era_cheap``'s) ``twi_probability``
HALF_TWI = 0.5
#: the bottleneck variant's MBRNet width, a fraction of the teacher neck's
BOTTLENECK_FRACTION = 4


#: ``--config`` -> the ERA config whose student and teacher are timed:
#: ``tiny``/``coco`` the RetinaNet pairs, ``coco-<family>`` mmdet's own
#: one-stage COCO pairs of that head family, ``tiny-<family>`` the tiny ones.
ERA_CONFIGS = {
    'tiny': repo_path(
        'configs/era/era_retinanet_r34w32-r18w16_fpn_500it_synthetic.py'),
    'coco': repo_path('configs/era/era_retinanet_r101-r50_fpn_1x_coco.py'),
    'coco-gfl': repo_path('configs/era/era_gfl_r101-r50_fpn_1x_coco.py'),
    'coco-atss': repo_path('configs/era/era_atss_r101-r50_fpn_1x_coco.py'),
    'coco-fcos': repo_path('configs/era/era_fcos_r101-r50_fpn_1x_coco.py'),
    'coco-rtmdet': repo_path(
        'configs/era/era_rtmdet_s-tiny_cspnextpafpn_300e_coco.py'),
    'tiny-fcos': repo_path(
        'configs/era/era_fcos_r34w32-r18w16_fpn_500it_synthetic.py'),
    'tiny-atss': repo_path(
        'configs/era/era_atss_r34w32-r18w16_fpn_500it_synthetic.py'),
    'tiny-gfl': repo_path(
        'configs/era/era_gfl_r34w32-r18w16_fpn_500it_synthetic.py'),
    'tiny-rtmdet': repo_path('configs/era/era_rtmdet_cspnextw24-cspnextw16_'
                             'cspnextpafpn_500it_synthetic.py'),
    'tiny-fasterrcnn': repo_path(
        'configs/era/era_fasterrcnn_r34w32-r18w16_fpn_500it_synthetic.py'),
    # the real mini set's pair: MobileNetV2 RetinaNet -> R18 x1/4
    'tiny-deepforest': repo_path(
        'configs/era/era_retinanet_mnv2-r18w16_fpn_500it_deepforest.py'),
    'coco-fasterrcnn': repo_path(
        'configs/era/era_fasterrcnn_r101-r50_fpn_1x_coco.py'),
}
#: ``--config`` prefix -> (img size, batch)
DEFAULTS = {'tiny': (320, 4), 'coco': (512, 2)}


def check_mode(mode: str) -> str:
    """``mode`` if it is one of :data:`MODES`, or an ERA mode with
    :data:`VARIANTS` (each at most once); else a ValueError naming them."""
    base, *variants = mode.split('+')
    if base in MODES and (not variants or (
            base.startswith('era_') and set(variants) <= set(VARIANTS)
            and len(set(variants)) == len(variants))):
        return mode
    raise ValueError(f'unknown mode {mode!r}: one of {list(MODES)}, an ERA '
                     f'one optionally with +{"/+".join(VARIANTS)}')


def default_size(config: str) -> Tuple[int, int]:
    """(img size, batch) of ``config`` (:data:`DEFAULTS` by its prefix)."""
    return DEFAULTS[config.split('-')[0]]


def pair_configs(config: str) -> Tuple[ConfigDict, ConfigDict, ConfigDict]:
    """Returns (ERA model cfg, student cfg, teacher cfg) with no pretrained
    backbones, so nothing downloads and init_weights stays offline."""
    era = Config.fromfile(ERA_CONFIGS[config]).model
    student = load_model_config(era.student).copy()
    teacher = load_model_config(era.teacher_config).copy()
    for cfg in (student, teacher):
        cfg.backbone.init_cfg = None
    return era, student, teacher


def ld_config(student: ConfigDict, teacher: ConfigDict) -> ConfigDict:
    """An LD pair (mmdet's ``configs/ld``) on the student/teacher backbones
    and necks: LDHead student, GFL teacher, both as deep as their RetinaHeads.
    """
    anchors = dict(type='AnchorGenerator', ratios=[1.0], octave_base_scale=8,
                   scales_per_octave=1, strides=[8, 16, 32, 64, 128])
    common = dict(
        num_classes=student.bbox_head.num_classes,
        anchor_generator=anchors, reg_max=16,
        loss_cls=dict(type='QualityFocalLoss', use_sigmoid=True, beta=2.0,
                      loss_weight=1.0),
        loss_dfl=dict(type='DistributionFocalLoss', loss_weight=0.25),
        loss_bbox=dict(type='GIoULoss', loss_weight=2.0))

    def head(det: ConfigDict, **kw) -> dict:
        return dict(in_channels=det.neck.out_channels,
                    feat_channels=det.bbox_head.feat_channels,
                    stacked_convs=det.bbox_head.stacked_convs, **common, **kw)

    train_cfg = dict(assigner=dict(type='ATSSAssigner', topk=9),
                     allowed_border=-1, pos_weight=-1, debug=False)
    test_cfg = dict(nms_pre=1000, min_bbox_size=0, score_thr=0.05,
                    nms=dict(type='nms', iou_threshold=0.6), max_per_img=100)
    gfl = dict(type='GFL', data_preprocessor=teacher.data_preprocessor,
               backbone=teacher.backbone, neck=teacher.neck,
               bbox_head=head(teacher, type='GFLHead'),
               train_cfg=train_cfg, test_cfg=test_cfg)
    return ConfigDict(
        type='KnowledgeDistillationSingleStageDetector',
        data_preprocessor=student.data_preprocessor,
        backbone=student.backbone, neck=student.neck,
        bbox_head=head(student, type='LDHead', loss_ld=dict(
            type='KnowledgeDistillationKLDivLoss', loss_weight=0.25, T=10)),
        teacher_config=dict(model=gfl), teacher_ckpt=None,
        train_cfg=train_cfg, test_cfg=test_cfg)


class Floor(BaseModel):
    """The student plus a frozen teacher's ``no_grad`` features, unused: the
    least any feature distiller can cost.

    The teacher is a submodule so ``.to(device)`` moves it; its parameters do
    not require grad, so the optimizer and the parameter count skip them.
    """

    def __init__(self, student: nn.Module, teacher: nn.Module) -> None:
        super().__init__(data_preprocessor=student.data_preprocessor)
        self.student, self.teacher = student, teacher.requires_grad_(False)

    def train(self, mode: bool = True) -> 'Floor':
        """Trains the student; the teacher stays in eval mode."""
        super().train(mode)
        self.teacher.eval()
        return self

    def init_weights(self) -> None:
        """Initialises the student (the teacher is the one given)."""
        self.student.init_weights()

    def forward(self, inputs: torch.Tensor, data_samples: list,
                mode: str = 'loss') -> dict:
        """The student's losses, after the teacher's features."""
        losses = self.student.loss(inputs, data_samples)
        with torch.no_grad():
            self.teacher.extract_feat(inputs)
        return losses


def build_model(mode: str, config: str,
                teacher_ckpt: Optional[str]) -> nn.Module:
    """Builds the model of ``mode`` (weights random, teacher from the ckpt)."""
    era, student_cfg, teacher_cfg = pair_configs(config)
    if mode == 'student':
        model = MODELS.build(student_cfg)
    elif mode == 'floor':
        model = Floor(MODELS.build(student_cfg), MODELS.build(teacher_cfg))
    elif mode == 'ld':
        model = MODELS.build(ld_config(student_cfg, teacher_cfg))
    else:
        base, *variants = check_mode(mode).split('+')
        era.update(student=student_cfg, teacher_config=teacher_cfg,
                   teacher_ckpt=teacher_ckpt,
                   twi_mode={'era_notwi': 'none', 'era_cheap': 'sampled'}.get(
                       base, base[4:]))
        mbrnet = dict(era.get('mbrnet', {}))
        if base == 'era_cheap':
            # ERA's cheap setting (the configs/era/era-fast_* configs)
            variants = sorted(set(variants) | set(CHEAP))
        if 'bottleneck' in variants:
            mbrnet.update(separable=False, num_blocks=1,
                          bottleneck_channels=teacher_cfg.neck.out_channels //
                          BOTTLENECK_FRACTION)
        if 'bf16' in variants:
            era.twi_precision = 'bf16'
        if 'halftwi' in variants:
            era.twi_probability = HALF_TWI
        if 'recompute' in variants:
            era.twi_recompute = True
        era.mbrnet = mbrnet
        model = MODELS.build(era)
    model.init_weights()  # ERADistiller: also loads the teacher checkpoint
    return model


def fixed_batch(config: str, img: int, batch: int) -> dict:
    """One random batch (a few random gt boxes per image), as a data loader
    yields it; every mode trains on it."""
    _, student_cfg, _ = pair_configs(config)
    head = student_cfg.get('bbox_head') or student_cfg.roi_head.bbox_head
    num_classes = head.num_classes  # a dense head's, or the RoI box head's
    gen = torch.Generator().manual_seed(0)
    images, samples = [], []
    for _ in range(batch):
        images.append(torch.randint(0, 256, (3, img, img), generator=gen,
                                    dtype=torch.uint8))
        wh = torch.rand(4, 2, generator=gen) * (img / 2 - 16) + 16  # 4 boxes
        xy = torch.rand(4, 2, generator=gen) * (img - wh)
        samples.append(DetDataSample(
            metainfo=dict(img_shape=(img, img), ori_shape=(img, img),
                          scale_factor=(1.0, 1.0)),
            gt_instances=InstanceData(
                bboxes=HorizontalBoxes(torch.cat([xy, xy + wh], 1)),
                labels=torch.randint(0, num_classes, (4, ), generator=gen))))
    return dict(inputs=images, data_samples=samples)


def run_single(mode: str, config: str, img_size: int, batch: int,
               iters: int, warmup: int, device: str,
               teacher_ckpt: Optional[str]) -> Dict:
    """Builds and times one mode in this process.

    Args:
        mode: One of :data:`MODES`, an ERA one optionally with
            :data:`VARIANTS` (:func:`check_mode`).
        config: A key of :data:`ERA_CONFIGS`.
        img_size: Side of the square images.
        batch: Images per batch.
        iters: Timed steps.
        warmup: Untimed steps before them.
        device: Where to run (``'cpu'``, ``'cuda'``).
        teacher_ckpt: The teacher checkpoint of the ERA modes.

    Returns:
        dict: ``mode``, ``median_ms``, ``times_ms``, ``twi_steps`` (per
        timed step, whether it ran TWI), ``peak_mb`` (on CPU the process's
        peak RSS), ``imports_mb`` (on CPU the peak RSS before anything is
        built: the imports; 0 on CUDA), ``net_peak_mb`` (their difference),
        ``params_m`` (trainable), the last ``loss`` and ``loss_keys``.
    """
    # what the imports alone hold (torch, mmdet, mmera): subtracted from
    # the peak, the memory the mode itself needs
    cuda = device.startswith('cuda')
    imports_mb = 0.0 if cuda else _peak_rss_mb()
    init_default_scope('mmdet')
    torch.manual_seed(0)  # the same init and the same 'sampled' k draws
    data = fixed_batch(config, img_size, batch)
    model = build_model(mode, config, teacher_ckpt).to(torch.device(device))
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    timed = time_train_steps(model, data, iters=iters, warmup=warmup)
    peak_mb = (torch.cuda.max_memory_allocated(device) / 2**20 if cuda
               else _peak_rss_mb())
    times, logs = timed['times_ms'], timed['log_vars']
    return dict(mode=mode, median_ms=statistics.median(times),
                times_ms=times,
                # a step without TWI (twi_probability < 1) logs a zero loss
                twi_steps=[log.get('era.loss_twi', 0.0) > 0 for log in logs],
                peak_mb=peak_mb, imports_mb=imports_mb,
                net_peak_mb=peak_mb - imports_mb,
                params_m=sum(p.numel() for p in model.parameters()
                             if p.requires_grad) / 1e6,
                loss=logs[-1]['loss'],
                loss_keys=sorted(k for k in logs[-1] if k != 'loss'))


def _peak_rss_mb() -> float:
    """This process's peak RSS so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_teacher_ckpt(config: str, path: str) -> None:
    """Saves a randomly initialised teacher for ERADistiller's teacher_ckpt
    (mmdet's initialisation, no pretrained weights)."""
    init_default_scope('mmdet')
    torch.manual_seed(0)
    teacher = MODELS.build(pair_configs(config)[2])
    # mmdet's own init (offline: no pretrained backbone), as a trained
    # teacher's activations are tame; PyTorch's default init of a deep
    # CSPNeXt blows them up and the distillation losses with them
    teacher.init_weights()
    torch.save({'state_dict': teacher.state_dict()}, path)
