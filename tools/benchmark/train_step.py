"""Train-step cost of ERA against the student, a distiller floor and LD.

On ONE fixed, preprocessed batch, every mode runs ``--warmup`` untimed steps
then ``--iters`` timed steps (forward + backward + SGD step) and reports the
median step time, the peak memory and its trainable parameters:

* ``student``: the student detector alone (its own loss);
* ``floor``: the student step plus a ``no_grad`` teacher ``extract_feat``,
  the least any feature distiller can cost;
* ``era_all`` / ``era_sampled`` / ``era_last`` / ``era_notwi``: ERADistiller
  with ``twi_mode`` ``'all'`` / ``'sampled'`` / ``'last'`` / ``'none'``
  (``era_notwi`` is MBRNet alone, separating MBRNet's cost from TWI's);
* ``era_cheap``: one separable conv block per MBRNet branch and
  ``twi_mode='sampled'`` (the ``*_fast.py`` configs);
* ``ld``: mmdet's ``KnowledgeDistillationSingleStageDetector`` (LD, a GFL
  teacher) with the same backbones and necks; a peer with its own
  (GFL-style) head, so its numbers include a different head.

Each mode runs in its own subprocess (the script re-invokes itself with
``--single MODE``), so peak memory is per mode: on CUDA
``torch.cuda.max_memory_allocated`` (weights, optimizer state, activations);
on CPU the process's peak RSS (``ru_maxrss``), imports included (~0.5 GB), so
compare CPU memory across modes only. Weights are random; nothing downloads.

Example::

    python tools/benchmark/train_step.py --config tiny --iters 20
    python tools/benchmark/train_step.py --config coco --device cuda \\
        --modes student floor era_all era_sampled --json work_dirs/cost.json
"""
import argparse
import json
import os
import os.path as osp
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional, Tuple

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from _bootstrap import ensure_mmera_importable  # noqa: E402

ensure_mmera_importable()

import torch  # noqa: E402
from mmengine.config import Config, ConfigDict  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from mmengine.structures import InstanceData  # noqa: E402
from torch import nn  # noqa: E402

import mmera  # noqa: E402,F401  (registers ERADistiller)
from mmdet.registry import MODELS  # noqa: E402
from mmdet.structures import DetDataSample  # noqa: E402
from mmdet.structures.bbox import HorizontalBoxes  # noqa: E402
from mmera.models.distillers.base_distiller import \
    load_model_config  # noqa: E402

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
MODES = ('student', 'floor', 'era_all', 'era_sampled', 'era_last',
         'era_notwi', 'era_cheap', 'ld')
ERA_CONFIGS = {
    'tiny': osp.join(REPO, 'configs/era/era_r34w32_to_r18w16_synthetic.py'),
    'coco': osp.join(REPO, 'configs/era/retinanet_r101_to_r50_coco.py'),
}
DEFAULTS = {'tiny': (320, 4), 'coco': (512, 2)}  # (img size, batch)
MARK = 'TRAIN_STEP_RESULT '


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


class Floor(nn.Module):
    """The student plus a frozen teacher's ``no_grad`` features, unused.

    The teacher is a submodule so ``.to(device)`` moves it; its parameters do
    not require grad, so the optimizer and the parameter count skip them.
    """

    def __init__(self, student: nn.Module, teacher: nn.Module) -> None:
        super().__init__()
        self.student, self.teacher = student, teacher.requires_grad_(False)

    def train(self, mode: bool = True) -> 'Floor':
        super().train(mode)
        self.teacher.eval()
        return self

    def init_weights(self) -> None:
        self.student.init_weights()

    def parse_losses(self, losses: dict) -> tuple:
        return self.student.parse_losses(losses)

    def loss(self, inputs: torch.Tensor, samples: list) -> dict:
        losses = self.student.loss(inputs, samples)
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
    elif mode == 'era_cheap':
        # ERA's cheap setting (configs/era/*_fast.py): one separable block per
        # MBRNet branch, one sampled TWI head pass per step
        era.update(student=student_cfg, teacher_config=teacher_cfg,
                   teacher_ckpt=teacher_ckpt, twi_mode='sampled')
        era.mbrnet = dict(era.get('mbrnet', {}), separable=True, num_blocks=1)
        model = MODELS.build(era)
    else:
        era.update(student=student_cfg, teacher_config=teacher_cfg,
                   teacher_ckpt=teacher_ckpt,
                   twi_mode={'era_notwi': 'none'}.get(mode, mode[4:]))
        model = MODELS.build(era)
    model.init_weights()  # ERADistiller: also loads the teacher checkpoint
    return model


def fixed_batch(config: str, img: int, batch: int,
                device: torch.device) -> Tuple[torch.Tensor, list]:
    """One random batch (a few random gt boxes per image), preprocessed once
    by the student's data preprocessor; every mode trains on it."""
    _, student_cfg, _ = pair_configs(config)
    num_classes = student_cfg.bbox_head.num_classes
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
    pre = MODELS.build(student_cfg.data_preprocessor)
    data = pre(dict(inputs=images, data_samples=samples), training=True)
    return data['inputs'].to(device), [s.to(device) for s in
                                       data['data_samples']]


def run_single(args: argparse.Namespace) -> Dict:
    """Builds and times one mode in this process; returns its results."""
    init_default_scope('mmdet')
    device = torch.device(args.device)
    torch.manual_seed(0)  # the same init and the same 'sampled' k draws
    inputs, samples = fixed_batch(args.config, args.img_size, args.batch,
                                  device)
    model = build_model(args.single, args.config, args.teacher_ckpt)
    model.to(device).train()
    params = [p for p in model.parameters() if p.requires_grad]
    optim = torch.optim.SGD(params, lr=1e-4, momentum=0.9, weight_decay=1e-4)
    sync = torch.cuda.synchronize if device.type == 'cuda' else (lambda: None)
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(device)
    times = []
    for it in range(args.warmup + args.iters):
        sync()
        start = time.perf_counter()
        optim.zero_grad(set_to_none=True)
        losses = model.loss(inputs, samples)
        # sums every 'loss*' entry the way mmengine's runner does
        loss, _ = model.parse_losses(losses)
        loss.backward()
        optim.step()
        sync()
        if it >= args.warmup:
            times.append(time.perf_counter() - start)
    if device.type == 'cuda':
        peak_mb = torch.cuda.max_memory_allocated(device) / 2**20
    else:  # Linux reports ru_maxrss in KiB
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return dict(mode=args.single, median_ms=1e3 * statistics.median(times),
                times_ms=[1e3 * t for t in times], peak_mb=peak_mb,
                params_m=sum(p.numel() for p in params) / 1e6,
                loss=float(loss.detach()), loss_keys=sorted(losses))


def write_teacher_ckpt(config: str, path: str) -> None:
    """Saves a randomly initialised teacher for ERADistiller's teacher_ckpt."""
    init_default_scope('mmdet')
    torch.manual_seed(0)
    teacher = MODELS.build(pair_configs(config)[2])
    torch.save({'state_dict': teacher.state_dict()}, path)


def fmt(value: Optional[float], spec: str) -> str:
    return 'n/a' if value is None else format(value, spec)


def table(results: List[Dict]) -> str:
    """The markdown table; ratios divide by floor's / student's median."""
    ref = {r['mode']: r.get('median_ms') for r in results}
    rows = ['| mode | median step (ms) | ratio to floor | ratio to student '
            '| peak memory (MB) | trainable params (M) |',
            '|---|---:|---:|---:|---:|---:|']
    for r in results:
        if 'error' in r:
            rows.append(f"| {r['mode']} | failed: {r['error']} | | | | |")
            continue  # the error's last line; its stderr went to stderr
        ms = r['median_ms']
        ratios = [ms / ref[k] if ref.get(k) else None
                  for k in ('floor', 'student')]
        name = r['mode'] + (' (own LDHead/GFL head)' if r['mode'] == 'ld'
                            else '')
        rows.append(f"| {name} | {ms:.1f} | {fmt(ratios[0], '.2f')} | "
                    f"{fmt(ratios[1], '.2f')} | {r['peak_mb']:.0f} | "
                    f"{r['params_m']:.3f} |")
    return '\n'.join(rows)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', choices=sorted(ERA_CONFIGS),
                        default='tiny')
    parser.add_argument('--img-size', type=int, help='default: tiny 320, '
                        'coco 512')
    parser.add_argument('--batch', type=int, help='default: tiny 4, coco 2')
    parser.add_argument('--iters', type=int, default=20, help='timed steps')
    parser.add_argument('--warmup', type=int, default=3, help='untimed steps')
    parser.add_argument('--device', default='cuda'
                        if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--modes', nargs='+', choices=MODES,
                        default=list(MODES))
    parser.add_argument('--threads', type=int, help='torch.set_num_threads')
    parser.add_argument('--rounds', type=int, default=3,
                        help='sweeps over the modes, each in a rotated order; '
                        'the median is taken over all rounds, so a slow '
                        'spell of a shared machine hits every mode alike')
    parser.add_argument('--json', help='also save the results here')
    parser.add_argument('--single', choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument('--teacher-ckpt', help=argparse.SUPPRESS)
    args = parser.parse_args()
    img, batch = DEFAULTS[args.config]
    args.img_size = args.img_size or img
    args.batch = args.batch or batch
    return args


def run_modes(args: argparse.Namespace) -> List[Dict]:
    """Runs every mode in its own subprocess, one after the other (timings
    must not overlap); a failed mode gets an ``error`` entry."""
    env = dict(os.environ)
    if args.threads:  # so OpenMP/MKL in the children match torch's threads
        env.update(OMP_NUM_THREADS=str(args.threads),
                   MKL_NUM_THREADS=str(args.threads))
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = osp.join(tmp, 'teacher.pth')
        if any(m.startswith('era') for m in args.modes):
            write_teacher_ckpt(args.config, ckpt)
        for mode in args.modes:
            cmd = [sys.executable, osp.abspath(__file__), '--single', mode,
                   '--teacher-ckpt', ckpt]
            for key in ('config', 'img_size', 'batch', 'iters', 'warmup',
                        'device', 'threads'):
                if getattr(args, key) is not None:
                    cmd += ['--' + key.replace('_', '-'),
                            str(getattr(args, key))]
            proc = subprocess.run(cmd, capture_output=True, text=True,
                                  env=env)
            lines = [x for x in proc.stdout.splitlines() if x.startswith(MARK)]
            if proc.returncode or not lines:
                err = (proc.stderr.strip().splitlines() or ['?'])[-1]
                print(f'{mode} failed:\n{proc.stderr[-3000:]}',
                      file=sys.stderr)
                results.append(dict(mode=mode, error=err[:120]))
            else:
                results.append(json.loads(lines[-1][len(MARK):]))
            print(f'done: {mode}', file=sys.stderr, flush=True)
    return results


def merge_rounds(args: argparse.Namespace) -> List[Dict]:
    """Runs ``--rounds`` sweeps in rotated mode orders and pools each mode's
    step times (median over all of them) and peak memory (max)."""
    modes, pooled = list(args.modes), {}
    for r in range(args.rounds):
        args.modes = modes[r % len(modes):] + modes[:r % len(modes)]
        for res in run_modes(args):
            prev = pooled.setdefault(res['mode'], res)
            if 'error' in res or 'error' in prev:
                pooled[res['mode']] = prev if 'error' in prev else res
            elif prev is not res:
                prev['times_ms'] += res['times_ms']
                prev['peak_mb'] = max(prev['peak_mb'], res['peak_mb'])
    args.modes = modes
    for res in pooled.values():
        if 'times_ms' in res:
            res['median_ms'] = statistics.median(res['times_ms'])
    return [pooled[m] for m in modes]


def device_name(device: str) -> str:
    """The GPU's name, or the CPU's architecture and logical core count."""
    if device.startswith('cuda'):
        return torch.cuda.get_device_name(torch.device(device))
    return f'cpu ({platform.machine()}, {os.cpu_count()} logical cores)'


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.single:  # child: one mode, one JSON line on stdout
        print(MARK + json.dumps(run_single(args)), flush=True)
        return
    results = merge_rounds(args)
    mem = ('torch.cuda.max_memory_allocated' if args.device.startswith('cuda')
           else 'process peak RSS, imports included')
    header = (f'device: {device_name(args.device)}; torch '
              f'{torch.__version__}; config: {args.config}; batch '
              f'{args.batch}; img {args.img_size}x{args.img_size}; threads '
              f'{torch.get_num_threads()}; {args.rounds} rounds x ('
              f'{args.warmup} warm-up + {args.iters} timed steps); '
              f'memory: {mem}')
    print(header + '\n\n' + table(results))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(header=header, args=vars(args), results=results),
                      f, indent=2)


if __name__ == '__main__':
    main()
