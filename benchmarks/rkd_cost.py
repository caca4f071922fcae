"""Parameters and FLOPs of an RKD student against the plain student.

RKD carves its student ``S`` and assistant ``A`` out of the student's own FPN
(each output conv split along its input channels, see
``mmera/models/rkd/residual_split_fpn.py``), so the training-time student
should cost what the plain student costs, and the deployed model IS the plain
student. This tool measures it on one ``1x3xHxW`` input with mmengine's
``FlopAnalyzer`` (fvcore convention: one multiply-add = one FLOP; element-wise
adds are not counted, so the ``S + A`` adds are reported on their own line)::

    python -m benchmarks.rkd_cost \\
        configs/rkd/rkd_retinanet_r34w32-r18w16_fpn_500it_synthetic.py
    python -m benchmarks.rkd_cost CONFIG --shape 320 320 --json cost.json

Rows: the plain student (built from ``model.student``), the deployed RKD
model (the distiller's student, what ``tools/export_student.py`` writes), the
training-time RKD forward (backbone, split FPN, head on ``S + A``, adapter on
``S`` and ``A``), the adapter alone, and the frozen teacher (training only).
Weights are random; nothing is loaded or downloaded.
"""
import argparse
import json
from typing import Dict, List

import torch
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.registry import init_default_scope
from torch import Tensor, nn

import mmera  # noqa: F401  (registers RKDDistiller)
from mmera.analysis.flops import count_flops, count_params
from mmera.models import load_model_config
from mmera.utils.cli import check_file_exists


class DetectorForward(nn.Module):
    """A detector's plain test-time forward (backbone, neck, head)."""

    def __init__(self, detector: nn.Module) -> None:
        super().__init__()
        self.detector = detector

    def forward(self, x: Tensor) -> tuple:
        cls_scores, bbox_preds = self.detector.bbox_head(
            self.detector.extract_feat(x))
        return tuple(cls_scores) + tuple(bbox_preds)


class RKDTrainForward(nn.Module):
    """The RKD student's training-time forward, without the losses."""

    def __init__(self, distiller: nn.Module) -> None:
        super().__init__()
        self.distiller = distiller

    def forward(self, x: Tensor) -> tuple:
        s_feats, a_feats = self.distiller.split_features(x)
        head_feats = [s + a for s, a in zip(s_feats, a_feats)]
        cls_scores, bbox_preds = self.distiller.student.bbox_head(head_feats)
        adapted = (self.distiller.adapter(s_feats) +
                   self.distiller.adapter(a_feats))
        return tuple(cls_scores) + tuple(bbox_preds) + tuple(adapted)


class AdapterForward(nn.Module):
    """The adapter on ``S`` and on ``A`` (two passes per training step)."""

    def __init__(self, adapter: nn.Module) -> None:
        super().__init__()
        self.adapter = adapter

    def forward(self, *feats: Tensor) -> tuple:
        half = len(feats) // 2  # S levels, then A levels
        return (tuple(self.adapter(list(feats[:half]))) +
                tuple(self.adapter(list(feats[half:]))))


def measure(config: str, height: int, width: int) -> List[Dict]:
    """Builds the distiller of ``config`` and measures every row.

    Returns:
        list: ``{'model', 'params', 'flops'}`` dicts, in table order.
    """
    cfg = Config.fromfile(config)
    if cfg.model.get('type') != 'RKDDistiller':
        raise SystemExit(f'error: {config} is not an RKD config (model.type '
                         f'is {cfg.model.get("type")!r}, not "RKDDistiller").')
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    torch.manual_seed(0)
    plain = MODELS.build(load_model_config(cfg.model.student)).eval()
    distiller = MODELS.build(cfg.model).eval()  # no init: nothing loads
    x = torch.randn(1, 3, height, width)
    with torch.no_grad():
        s_feats, a_feats = distiller.split_features(x)
    # the S + A additions on every level (FlopAnalyzer skips element-wise ops)
    adds = sum(f.numel() for f in s_feats)
    adapter = distiller.adapter
    rows = [
        dict(model='plain student', params=count_params([plain]),
             flops=count_flops(DetectorForward(plain), [x])),
        dict(model='RKD deployed (exported student)',
             params=count_params([distiller.student]),
             flops=count_flops(DetectorForward(distiller.student), [x])),
        dict(model='RKD training-time student (split FPN + adapter)',
             params=count_params([distiller]),
             flops=count_flops(RKDTrainForward(distiller), [x])),
        dict(model='  of which adapter (on S and on A)',
             params=count_params([adapter]),
             flops=(count_flops(AdapterForward(adapter), s_feats + a_feats)
                    if adapter.convs is not None else 0)),
        dict(model='  S + A element-wise adds (not in FlopAnalyzer)',
             params=0, flops=adds),
        dict(model='teacher (training only, frozen)',
             params=count_params([distiller.teacher]),
             flops=count_flops(DetectorForward(distiller.teacher), [x])),
    ]
    return rows


def table(rows: List[Dict]) -> str:
    """The rows as a fixed-width text table (M = 1e6, G = 1e9)."""
    lines = [f'{"model":<50} {"params":>14} {"FLOPs":>16}']
    for row in rows:
        lines.append(f'{row["model"]:<50} {row["params"]:>14,d} '
                     f'{row["flops"]:>16,d}')
    return '\n'.join(lines)


def parse_args() -> argparse.Namespace:
    """The command line's options."""
    parser = argparse.ArgumentParser(
        description='Parameters and FLOPs of RKD vs the plain student')
    parser.add_argument('config', help='an RKDDistiller config')
    parser.add_argument('--shape', type=int, nargs=2, default=[320, 320],
                        metavar=('H', 'W'), help='input size (320 320)')
    parser.add_argument('--json', help='also write the rows to this file')
    return parser.parse_args()


def main() -> None:
    """Prints (and saves) the table of the config given."""
    args = parse_args()
    check_file_exists(args.config, 'config file')
    height, width = args.shape
    rows = measure(args.config, height, width)
    print(f'config: {args.config}; input 1x3x{height}x{width}; FLOPs: '
          'mmengine FlopAnalyzer, 1 multiply-add = 1\n')
    print(table(rows))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(config=args.config, shape=[height, width],
                           rows=rows), f, indent=2)


if __name__ == '__main__':
    main()
