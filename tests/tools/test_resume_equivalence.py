"""An ERA run stopped mid-way and resumed with ``--resume`` ends bit for bit
where an uninterrupted run ends (CPU, fixed seed).

Both runs go through ``tools/train.py`` (run in this process with its own
command line, which saves ~5 s of imports per run), and, for the sampled mode,
also through mmdet's own packaged ``mmdet/.mim/tools/train.py``: the config
declares mmera's runner, so a user's existing mmdet tooling gets the same
atomic checkpoints and exact resume. The uninterrupted run
trains 4 iterations with a checkpoint at 2; the resumed run starts from that
checkpoint in another work directory. The schedule is made to stress what a
resume must restore: the learning rate changes at every step (linear warm-up
then a step decay right after the resume point), the distillation warm-up
ramps over the 4 steps and images are flipped at random. ``twi_mode='all'``
uses no random numbers in the model. ``twi_mode='sampled'`` draws the TWI
approximation at random each step, so it also needs the RNG state, which
mmengine does not checkpoint (ResumableCheckpointHook does); its runs also
validate (with the alpha sweep) between the checkpoint and step 3, in the
uninterrupted run only, which draws random numbers there.
"""
import os.path as osp
import re
import runpy
import sys
import textwrap

import mmdet
import pytest
import torch
from cli_helpers import TOOLS

import mmera  # noqa: F401  (lets torch.load read mmengine checkpoints)

SCRIPTS = {
    'mmera': osp.join(TOOLS, 'train.py'),
    'mmdet': osp.join(osp.dirname(mmdet.__file__), '.mim', 'tools',
                      'train.py'),
}


def _extra(teacher_ckpt: str, twi_mode: str, validate: bool) -> str:
    """Config lines for the stress described in the module docstring."""
    hooks = "dict(type='DistillLossWarmupHook', warmup_iters=4)"
    if validate:
        hooks += ", dict(type='AlphaSweepHook', alphas=[0.0, 1.0])"
    text = textwrap.dedent(f"""
        model = dict(teacher_ckpt={teacher_ckpt!r}, twi_mode={twi_mode!r},
                     student=dict(test_cfg=dict(score_thr=0.0, nms_pre=100,
                                                max_per_img=20)))
        train_dataloader = dict(
            batch_size=2, num_workers=0, persistent_workers=False,
            dataset=dict(data_root=data_root, pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations', with_bbox=True),
            dict(type='Resize', scale=img_scale, keep_ratio=True),
            dict(type='RandomFlip', prob=0.5),
            dict(type='PackDetInputs')]))
        param_scheduler = [
            dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0,
                 end=3),
            dict(type='MultiStepLR', by_epoch=False, milestones=[3],
                 gamma=0.5)]
        custom_hooks = [{hooks}]
        """)
    if not validate:
        text += 'val_cfg = None\nval_dataloader = None\nval_evaluator = None\n'
    return text


@pytest.fixture(autouse=True)
def _one_thread(monkeypatch):
    """One thread: faster for these tiny models on a shared machine."""
    monkeypatch.setenv('LOCAL_RANK', '0')  # set by train.py when missing
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _train(monkeypatch, config, work_dir, *args, script='mmera'):
    """Runs a train script (:data:`SCRIPTS`) in this process; returns its
    log text."""
    # a fresh experiment name: mmengine keeps one message hub per name
    name = f'{work_dir.parent.name}_{work_dir.name}'
    monkeypatch.setattr(sys, 'argv', [
        'train.py', config, '--work-dir', str(work_dir), '--cfg-options',
        f'experiment_name={name}', *args])
    monkeypatch.syspath_prepend(TOOLS)
    runpy.run_path(SCRIPTS[script], run_name='__main__')
    return '\n'.join(p.read_text() for p in work_dir.glob('*/*.log'))


def _losses(log):
    """{iteration: 'loss: ... era.loss_twi: ...'} from a training log."""
    return {int(m.group(1)): m.group(2) for m in re.finditer(
        r'Iter\(train\) \[\s*(\d+)/4\].*?grad_norm: \S+\s+(loss: .*)', log)}


def _assert_same(a, b, where):
    """Every tensor equal, every other value equal, the same structure."""
    if torch.is_tensor(a):
        assert torch.equal(a, b), f'{where}: max diff ' \
            f'{(a.double() - b.double()).abs().max().item()}'
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            _assert_same(a[key], b[key], f'{where}.{key}')
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same(x, y, f'{where}[{i}]')
    else:
        assert a == b, f'{where}: {a!r} != {b!r}'


@pytest.mark.parametrize('twi_mode, script', [('all', 'mmera'),
                                              ('sampled', 'mmera'),
                                              ('sampled', 'mmdet')])
def test_resumed_era_run_equals_the_uninterrupted_run(
        twi_mode, script, make_tiny_config, tiny_teacher_ckpt, tmp_path,
        monkeypatch):
    # 'all' draws no random numbers: validation is skipped there (time)
    validate = twi_mode == 'sampled'
    config = make_tiny_config(
        'configs/era/era_retinanet_r34w32-r18w16_fpn_500it_synthetic.py',
        _extra(tiny_teacher_ckpt, twi_mode, validate), val_interval=2)
    full_dir, resumed_dir = tmp_path / 'full', tmp_path / 'resumed'
    full_log = _train(monkeypatch, config, full_dir, script=script)
    resumed_log = _train(monkeypatch, config, resumed_dir, '--resume',
                         str(full_dir / 'iter_2.pth'), script=script)
    # mmera's runner wrote the checkpoints (complete files only; the RNG
    # state, compared below, is in them)
    assert not [p for p in full_dir.iterdir() if '.tmp-' in p.name]

    # the resumed run continued at iteration 3; validation ran at 2 only in
    # the uninterrupted run
    assert 'resumed epoch: 0, iter: 2' in resumed_log
    full, resumed = _losses(full_log), _losses(resumed_log)
    assert sorted(full) == [1, 2, 3, 4] and sorted(resumed) == [3, 4]
    assert full_log.count('ST-mode sweep') == (2 if validate else 0)
    assert resumed_log.count('ST-mode sweep') == (1 if validate else 0)
    # the same losses (all printed digits) at the same steps
    assert resumed[3] == full[3] and resumed[4] == full[4], (full, resumed)

    final_full = torch.load(full_dir / 'iter_4.pth', map_location='cpu')
    final_resumed = torch.load(resumed_dir / 'iter_4.pth', map_location='cpu')
    weights = final_full['state_dict']
    assert {k.split('.')[0] for k in weights} == {'student', 'mbrnet', 'twi'}
    # student, MBRNet, TWI head; AdamW moments and step counts; the LR
    # schedulers; the RNG state for what comes next
    for key in ('state_dict', 'optimizer', 'param_schedulers', 'rng_state'):
        _assert_same(final_full[key], final_resumed[key], key)
    assert final_resumed['meta']['iter'] == 4
    # the schedule really moved across the resume point (warm-up, decay)
    lrs = [float(m) for m in re.findall(r'Iter\(train\).*? lr: (\S+)',
                                        full_log)]
    assert len(set(lrs)) == 4, lrs
    step = next(iter(final_resumed['optimizer']['state'].values()))['step']
    assert int(step) == 4
