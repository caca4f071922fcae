"""Tests for tools/model_converters/mobilenetv2_to_mmdet.py (no mocks)."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections import OrderedDict
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / 'tools' / 'model_converters' / 'mobilenetv2_to_mmdet.py'


def _load_script():
    spec = importlib.util.spec_from_file_location('mobilenetv2_to_mmdet',
                                                  SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


conv = _load_script()


def _mmdet_mobilenetv2(**kwargs):
    from mmdet.models.backbones import MobileNetV2
    return MobileNetV2(**kwargs)


def torchvision_keys(model) -> OrderedDict:
    """Map each mmdet key to torchvision's name for the same tensor.

    Walks the mmdet model in its own order and renames it the way
    ``torchvision.models.mobilenet_v2`` names it: ``features.0`` is the stem,
    ``features.1..17`` the inverted residual blocks, ``features.18`` the last
    1x1 conv. Blocks with expansion have ``conv.0`` (expand ConvBNReLU),
    ``conv.1`` (depthwise ConvBNReLU), ``conv.2`` (linear conv), ``conv.3``
    (its BN); without expansion the depthwise comes first as ``conv.0``.
    """
    prefixes = {'conv1.conv': 'features.0.0', 'conv1.bn': 'features.0.1',
                'conv2.conv': 'features.18.0', 'conv2.bn': 'features.18.1'}
    index = 0
    for layer_name in model.layers[:-1]:  # all but conv2
        for block_idx, block in enumerate(getattr(model, layer_name)):
            index += 1
            src = f'{layer_name}.{block_idx}'
            dst = f'features.{index}.conv'
            names = (['expand_conv'] if hasattr(block, 'expand_conv')
                     else []) + ['depthwise_conv']
            for i, name in enumerate(names):
                prefixes[f'{src}.{name}.conv'] = f'{dst}.{i}.0'
                prefixes[f'{src}.{name}.bn'] = f'{dst}.{i}.1'
            prefixes[f'{src}.linear_conv.conv'] = f'{dst}.{len(names)}'
            prefixes[f'{src}.linear_conv.bn'] = f'{dst}.{len(names) + 1}'
    assert index == 17
    mapping = OrderedDict()
    for key in model.state_dict():
        module, param = key.rsplit('.', 1)
        mapping[key] = f'{prefixes[module]}.{param}'
    return mapping


def synthetic_torchvision_state(model, seed: int = 0) -> OrderedDict:
    """Random torchvision-style state dict with the shapes of ``model``."""
    gen = torch.Generator().manual_seed(seed)
    names = torchvision_keys(model)
    state = OrderedDict()
    for key, tensor in model.state_dict().items():
        if tensor.is_floating_point():
            value = torch.randn(tensor.shape, generator=gen)
        else:  # num_batches_tracked
            value = torch.randint(0, 1000, tensor.shape, generator=gen)
        state[names[key]] = value
    state['classifier.1.weight'] = torch.randn((1000, model.out_channel),
                                               generator=gen)
    state['classifier.1.bias'] = torch.randn((1000, ), generator=gen)
    return state


@pytest.fixture(scope='module')
def real_checkpoint() -> Path:
    try:
        return conv.find_default_checkpoint()
    except FileNotFoundError as err:
        # The project's setup installs the package, so its absence is a setup
        # error: fail loudly instead of skipping.
        pytest.fail(f'{err}. The project setup installs this package; this '
                    'test fails rather than skips without it.')


def test_real_imagenet_checkpoint(real_checkpoint):
    src = torch.load(real_checkpoint, map_location='cpu', weights_only=True)
    converted = conv.convert_mobilenetv2(src)
    model = _mmdet_mobilenetv2(out_indices=(1, 2, 4, 7))
    result = model.load_state_dict(converted, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    # Tensors equal to the source, in source order.
    src_tensors = [v for k, v in src.items() if not k.startswith('classifier')]
    model_state = model.state_dict()
    assert len(src_tensors) == len(model_state) == 312
    for (key, value), expected in zip(model_state.items(), src_tensors):
        assert torch.equal(value, expected), key
    # Our torchvision naming helper agrees with the real checkpoint.
    assert list(torchvision_keys(model).values()) == [
        k for k in src if not k.startswith('classifier')]
    model.eval()
    with torch.no_grad():
        outs = model(torch.randn(1, 3, 64, 64))
    assert [tuple(o.shape) for o in outs] == [
        (1, 24, 16, 16), (1, 32, 8, 8), (1, 96, 4, 4), (1, 1280, 2, 2)]
    assert all(torch.isfinite(o).all() for o in outs)


@pytest.mark.parametrize('prefix', ['', 'backbone.'])
def test_cli_output_loads_via_init_cfg(real_checkpoint, tmp_path, prefix):
    out = tmp_path / 'mbv2.pth'
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), '--out', str(out), '--prefix', prefix],
        cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    ckpt = torch.load(out, map_location='cpu', weights_only=True)
    meta = ckpt['meta']
    assert meta['source'].endswith('mobilenet_v2-b0353104.pth')
    assert meta['source_sha256'] == conv.file_sha256(real_checkpoint)
    assert meta['source_sha256'].startswith('b0353104')  # torchvision's tag
    assert meta['converter'].endswith('mobilenetv2_to_mmdet.py')
    keys = list(ckpt['state_dict'])
    assert keys[0] == f'{prefix}conv1.conv.weight'
    if prefix:
        return
    model = _mmdet_mobilenetv2(
        init_cfg=dict(type='Pretrained', checkpoint=str(out)))
    model.init_weights()
    for key, value in model.state_dict().items():
        assert torch.equal(value, ckpt['state_dict'][key]), key


def test_synthetic_widen_factor_quarter():
    model = _mmdet_mobilenetv2(widen_factor=0.25)
    src = synthetic_torchvision_state(model)
    converted = conv.convert_mobilenetv2(src)  # widen factor inferred
    target = _mmdet_mobilenetv2(widen_factor=0.25)
    target.load_state_dict(converted, strict=True)
    names = torchvision_keys(model)
    for key, value in target.state_dict().items():
        assert torch.equal(value, src[names[key]]), key


def test_count_and_shape_mismatch_errors():
    model = _mmdet_mobilenetv2(widen_factor=0.25)
    ref = model.state_dict()
    src = synthetic_torchvision_state(model)

    missing_last = OrderedDict(src)
    del missing_last['features.18.1.num_batches_tracked']
    with pytest.raises(ValueError, match='count mismatch') as err:
        conv.convert_mobilenetv2(missing_last, target_state=ref)
    assert "'conv2.bn.num_batches_tracked'" in str(err.value)

    missing_mid = OrderedDict(src)
    del missing_mid['features.5.conv.1.1.running_var']
    with pytest.raises(ValueError, match='count mismatch') as err:
        conv.convert_mobilenetv2(missing_mid, target_state=ref)
    assert "'features.5.conv.1.1.num_batches_tracked'" in str(err.value)
    assert "'layer3.1.depthwise_conv.bn.running_var'" in str(err.value)

    bad_shape = OrderedDict(src)
    bad_shape['features.3.conv.0.0.weight'] = torch.zeros(7, 7, 1, 1)
    with pytest.raises(ValueError, match='first offending pair') as err:
        conv.convert_mobilenetv2(bad_shape, target_state=ref)
    assert "'features.3.conv.0.0.weight' (7, 7, 1, 1)" in str(err.value)
    assert "'layer2.1.expand_conv.conv.weight'" in str(err.value)


def test_cli_reports_mismatch(tmp_path):
    model = _mmdet_mobilenetv2(widen_factor=0.25)
    src = synthetic_torchvision_state(model)
    src.pop('features.0.0.weight')
    path = tmp_path / 'broken.pth'
    torch.save(src, path)
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), '--src', str(path), '--out',
         str(tmp_path / 'out.pth')], capture_output=True, text=True)
    assert proc.returncode == 1
    assert 'count mismatch' in proc.stderr and 'features.0.1.weight' in (
        proc.stderr)
    assert not (tmp_path / 'out.pth').exists()
