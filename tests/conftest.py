"""Shared fixtures: a tiny synthetic dataset and tiny configs built on it,
and ``one_thread``."""
import os.path as osp
import textwrap

import pytest
from cli_helpers import REPO_ROOT, TOOLS, run_tool  # noqa: F401


@pytest.fixture
def one_thread():
    """torch on one thread for the test, restored afterwards: faster for the
    small CPU steps of the tests on a shared 2-core machine (two threads
    contend with each other and the other jobs)."""
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='session')
def synthetic_root(tmp_path_factory):
    """A 12-train / 4-val synthetic COCO set at 160 px, made by the CLI."""
    root = tmp_path_factory.mktemp('synthetic')
    run_tool([
        osp.join(TOOLS, 'dataset_converters', 'make_synthetic_coco.py'),
        '--out', str(root), '--num-train', '12', '--num-val', '4',
        '--seed', '3', '--img-size', '160'
    ], cwd=root)
    return str(root)


# Test-size overrides shared by the tiny configs: the tiny synthetic set at
# 160 px, batch 2 in the main process, a few iterations, every detection kept
# (an untrained head scores ~0.01, the focal-loss prior).
TEST_TEST_CFG = 'dict(score_thr=0.0, nms_pre=100, max_per_img=20)'


def _tiny_run_overrides(data_root: str, val_interval: int) -> str:
    return textwrap.dedent(f"""
        data_root = {data_root!r}
        img_scale = (160, 160)
        train_dataloader = dict(
            batch_size=2, num_workers=0, persistent_workers=False,
            dataset=dict(data_root=data_root, pipeline=[
                dict(type='LoadImageFromFile'),
                dict(type='LoadAnnotations', with_bbox=True),
                dict(type='Resize', scale=img_scale, keep_ratio=True),
                dict(type='PackDetInputs')]))
        test_pipeline = [
            dict(type='LoadImageFromFile'),
            dict(type='Resize', scale=img_scale, keep_ratio=True),
            dict(type='LoadAnnotations', with_bbox=True),
            dict(type='PackDetInputs', meta_keys=('img_id', 'img_path',
                 'ori_shape', 'img_shape', 'scale_factor'))]
        val_dataloader = dict(
            batch_size=2, num_workers=0, persistent_workers=False,
            dataset=dict(data_root=data_root, pipeline=test_pipeline))
        test_dataloader = val_dataloader
        val_evaluator = dict(
            ann_file=data_root + 'annotations/instances_val.json')
        test_evaluator = val_evaluator
        train_cfg = dict(max_iters=4, val_interval={val_interval})
        param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False)]
        default_hooks = dict(
            logger=dict(interval=1),
            checkpoint=dict(interval=2, save_best=None, max_keep_ckpts=-1),
            visualization=dict(draw=False))
        randomness = dict(seed=0, deterministic=False)
        """)


@pytest.fixture(scope='session')
def tiny_student_config(synthetic_root, tmp_path_factory):
    """The shipped tiny student config on the tiny synthetic set."""
    base = osp.join(REPO_ROOT, 'configs', 'tiny',
                    'retinanet_r18w16_fpn_500it_synthetic.py')
    path = tmp_path_factory.mktemp('configs') / 'tiny_student_test.py'
    path.write_text(f'_base_ = {base!r}\n' +
                    _tiny_run_overrides(synthetic_root + '/', 1000) +
                    f'model = dict(test_cfg={TEST_TEST_CFG})\n')
    return str(path)


@pytest.fixture(scope='session')
def tiny_teacher_ckpt(tmp_path_factory):
    """A randomly initialised tiny teacher, saved as a checkpoint."""
    import torch
    from mmdet.registry import MODELS
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    import mmera  # noqa: F401
    init_default_scope('mmdet')
    cfg = Config.fromfile(
        osp.join(REPO_ROOT, 'configs', 'tiny',
                 'retinanet_r34w32_fpn_500it_synthetic.py'))
    torch.manual_seed(0)
    teacher = MODELS.build(cfg.model)
    teacher.init_weights()
    path = tmp_path_factory.mktemp('teacher') / 'teacher.pth'
    torch.save({'state_dict': teacher.state_dict()}, path)
    return str(path)


@pytest.fixture(scope='session')
def tiny_era_config(synthetic_root, tiny_teacher_ckpt, tmp_path_factory):
    """The shipped ERA synthetic config on the tiny set: 4 iterations, then
    validation with the alpha sweep and the student export."""
    base = osp.join(REPO_ROOT, 'configs', 'era',
                    'era_retinanet_r34w32-r18w16_fpn_500it_synthetic.py')
    path = tmp_path_factory.mktemp('era_configs') / 'tiny_era_test.py'
    path.write_text(f'_base_ = {base!r}\n' +
                    _tiny_run_overrides(synthetic_root + '/', 4) +
                    textwrap.dedent(f"""
        model = dict(teacher_ckpt={tiny_teacher_ckpt!r},
                     student=dict(test_cfg={TEST_TEST_CFG}))
        custom_hooks = [
            dict(type='DistillLossWarmupHook', warmup_iters=4),
            dict(type='AlphaSweepHook', alphas=[0.0, 1.0]),
            dict(type='ExportStudentHook'),
        ]
        """))
    return str(path)


@pytest.fixture(scope='session')
def make_tiny_config(synthetic_root, tmp_path_factory):
    """Returns ``make(base, extra='', val_interval=4)``: a config file that
    inherits a shipped config (a path relative to the repository, e.g.
    ``'configs/rkd/rkd_retinanet_r34w32-r18w16_fpn_500it_synthetic.py'``)
    and runs it on the tiny synthetic set for 4 iterations; ``extra`` (config
    text) is appended, e.g. ``model = dict(teacher_ckpt=...)`` with the
    ``tiny_teacher_ckpt`` fixture."""
    def make(base: str, extra: str = '', val_interval: int = 4) -> str:
        name = osp.splitext(osp.basename(base))[0]
        path = tmp_path_factory.mktemp('configs') / f'tiny_{name}.py'
        path.write_text(f'_base_ = {osp.join(REPO_ROOT, base)!r}\n' +
                        _tiny_run_overrides(synthetic_root + '/',
                                            val_interval) +
                        textwrap.dedent(extra))
        return str(path)
    return make
