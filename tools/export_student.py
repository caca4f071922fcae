"""Exports the student of a distiller checkpoint as a stock mmdet checkpoint.

    python tools/export_student.py CONFIG CHECKPOINT OUT

CONFIG is the distiller config the checkpoint was trained with; the student
is rebuilt from its ``model.student`` and the exported weights are loaded
into it strictly before anything is written, so OUT is known to load with
the stock student config (e.g.
``mmdet::retinanet/retinanet_r50_fpn_1x_coco.py``).
"""
import argparse

from _bootstrap import ensure_mmera_importable

ensure_mmera_importable()

import torch  # noqa: E402
from mmdet.registry import MODELS  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402

import mmera  # noqa: E402,F401  (registers components, safe checkpoints)
from mmera.converters import export_student_checkpoint, extract_student_state  # noqa: E402
from mmera.models import load_model_config  # noqa: E402
from mmera.utils.cli import check_file_exists  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Export the student of a distiller checkpoint')
    parser.add_argument('config', help='the distiller config')
    parser.add_argument('checkpoint', help='the distiller checkpoint')
    parser.add_argument('out', help='where to write the student checkpoint')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    check_file_exists(args.config, 'config file')
    check_file_exists(args.checkpoint, 'checkpoint')
    cfg = Config.fromfile(args.config)
    if 'student' not in cfg.model:
        raise SystemExit(f'error: {args.config} is not a distiller config '
                         '(its model has no `student`).')
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    checkpoint = torch.load(args.checkpoint, map_location='cpu')
    # Prove the weights load into the stock student before writing anything.
    student = MODELS.build(load_model_config(cfg.model.student))
    student.load_state_dict(
        extract_student_state(checkpoint.get('state_dict', checkpoint)),
        strict=True)
    exported = export_student_checkpoint(
        checkpoint, args.out, extra_meta=dict(exported_from=args.checkpoint))
    print(f'exported {len(exported["state_dict"])} student tensors to '
          f'{args.out}; load it with the stock student config.')


if __name__ == '__main__':
    main()
