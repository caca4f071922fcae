"""``--amp`` for distillation on CPU: bfloat16 autocast around the whole
training forward (student, frozen teacher, MBRNet, TWI head), float32 master
weights, finite losses, and the alpha-sweep validation after it.

The precision policy is checked on the tiny ERA model directly; the wiring
(``tools/train.py CONFIG --amp`` on the shipped ERA config, run in this
process) end to end.
"""
import hashlib
import os.path as osp
import re
import runpy
import sys

import pytest
import torch
from cli_helpers import REPO_ROOT, TOOLS
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

import mmera  # noqa: F401  (registers mmera's models and optim wrappers)
from mmera.engine import CPUAmpOptimWrapper
from mmera.models.era.mbrnet import MBRNet

ERA = 'configs/era/era_retinanet_r34w32-r18w16_fpn_500it_synthetic.py'


@pytest.fixture(autouse=True)
def _one_thread(monkeypatch):
    """One thread: faster for these tiny models on a shared machine."""
    monkeypatch.setenv('LOCAL_RANK', '0')  # set by train.py when missing
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _batch(size=128):
    """Two uint8 images with ground-truth boxes, as the data loader gives."""
    gen = torch.Generator().manual_seed(0)
    data = dict(inputs=[], data_samples=[])
    for boxes, labels in (([[10., 20., 60., 90.], [50., 40., 120., 110.]],
                           [1, 3]), ([[5., 5., 40., 30.]], [0])):
        data['inputs'].append(
            torch.randint(0, 256, (3, size, size), generator=gen,
                          dtype=torch.uint8))
        sample = DetDataSample(metainfo=dict(
            img_shape=(size, size), ori_shape=(size, size),
            scale_factor=(1., 1.)))
        sample.gt_instances = InstanceData(
            bboxes=torch.tensor(boxes), labels=torch.tensor(labels))
        data['data_samples'].append(sample)
    return data


def _total(loss) -> float:
    # the student's losses are lists (one per FPN level)
    return float(sum(loss) if isinstance(loss, (list, tuple)) else loss)


def _digest(module) -> str:
    sha = hashlib.sha256()
    for name, value in module.state_dict().items():
        sha.update(name.encode() + value.detach().numpy().tobytes())
    return sha.hexdigest()


def test_teacher_twi_and_mbrnet_run_in_the_same_autocast(tiny_teacher_ckpt):
    init_default_scope('mmdet')
    cfg = Config.fromfile(osp.join(REPO_ROOT, ERA)).model
    cfg.teacher_ckpt = tiny_teacher_ckpt
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    model.init_weights()
    wrapper = CPUAmpOptimWrapper(
        optimizer=torch.optim.SGD(model.parameters(), lr=0.01))
    data = model.data_preprocessor(_batch(), True)
    teacher_before = _digest(model.teacher)

    # inside the wrapper's context every part computes in bfloat16
    with wrapper.optim_context(model):
        student = list(model.student.extract_feat(data['inputs']))
        teacher = model.teacher_features(data['inputs'])
        base, preds = model.mbrnet(student)
        cls_t, box_t = model.twi([MBRNet.approximations(base, preds)[-1]])
        amp_losses = model.loss(data['inputs'], data['data_samples'])
    for name, tensors in (('student', student), ('teacher', teacher),
                          ('mbrnet', base + preds[-1]),
                          ('twi', cls_t + box_t)):
        assert {t.dtype for t in tensors} == {torch.bfloat16}, name

    # the losses stay close to float32's (bfloat16 keeps float32's range);
    # the autocast did change them
    fp32_losses = model.loss(data['inputs'], data['data_samples'])
    names = [k for k in fp32_losses if 'loss' in k]
    assert {'era.loss_mimic', 'era.loss_residual', 'era.loss_twi'} <= set(
        names)
    amp = {n: _total(amp_losses[n]) for n in names}
    fp32 = {n: _total(fp32_losses[n]) for n in names}
    for name in names:
        assert abs(amp[name] - fp32[name]) <= 0.05 * abs(fp32[name]) + 1e-3, (
            name, amp[name], fp32[name])
    assert amp != fp32

    # a training step: finite, float32 weights updated, teacher untouched
    weight = model.student.bbox_head.retina_cls.weight
    before = weight.detach().clone()
    log_vars = model.train_step(_batch(), wrapper)
    assert all(torch.isfinite(torch.as_tensor(v)) for v in log_vars.values())
    assert weight.dtype == torch.float32 and not torch.equal(weight, before)
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert all(p.dtype == torch.float32 for p in model.teacher.parameters())
    assert _digest(model.teacher) == teacher_before


def test_amp_cli_trains_and_sweeps_an_era_run(make_tiny_config,
                                              tiny_teacher_ckpt, tmp_path,
                                              monkeypatch):
    config = make_tiny_config(
        ERA, f'model = dict(teacher_ckpt={tiny_teacher_ckpt!r}, student='
        'dict(test_cfg=dict(score_thr=0.0, nms_pre=100, max_per_img=20)))\n'
        "custom_hooks = [dict(type='AlphaSweepHook', alphas=[0.0, 0.5])]\n",
        val_interval=2)
    work = tmp_path / 'amp'
    monkeypatch.setattr(sys, 'argv', [
        'train.py', config, '--work-dir', str(work), '--amp', '--cfg-options',
        'train_cfg.max_iters=2', 'experiment_name=era_amp'])
    monkeypatch.syspath_prepend(TOOLS)
    runpy.run_path(osp.join(TOOLS, 'train.py'), run_name='__main__')
    log = '\n'.join(p.read_text() for p in work.glob('*/*.log'))

    # --amp selects AmpOptimWrapper, as mmdet's script does; without CUDA
    # mmera's runner builds the bfloat16 CPUAmpOptimWrapper (logged)
    assert ('AmpOptimWrapper (fp16) replaced by CPUAmpOptimWrapper' in log
            or torch.cuda.is_available())
    for name in ('loss', 'era.loss_mimic', 'era.loss_residual',
                 'era.loss_twi'):
        values = [float(v) for v in re.findall(rf' {re.escape(name)}: (\S+)',
                                               log)]
        assert len(values) == 2 and all(map(torch.isfinite,
                                            torch.tensor(values))), name
    # the ST-mode sweep (alpha 0.5 runs the TWI head) evaluated after AMP
    assert re.search(r'ST-mode sweep alpha=0.0: coco/bbox_mAP=\d\.\d+, '
                     r'alpha=0.5: coco/bbox_mAP=\d\.\d+', log), log[-2000:]
    ckpt = torch.load(work / 'iter_2.pth', map_location='cpu')
    assert {v.dtype for v in ckpt['state_dict'].values()
            if v.is_floating_point()} == {torch.float32}
