"""ExportStudentHook exports the weights mmdet evaluates and saves: the EMA
ones under an EMAHook (as in mmdet's RTMDet configs), the model's own
otherwise.

A real tiny FitNet distiller (R34 x1/2 teacher -> R18 x1/4 RetinaNet
student) trains 4 iterations on the tiny synthetic set in this process, with
mmera's runner (the one the configs declare).
"""
import textwrap

import pytest
import torch
from mmdet.registry import RUNNERS
from mmengine.config import Config
from mmengine.hooks import EMAHook

import mmera  # noqa: F401  (registers the runner, models and hooks)

BASE = 'configs/fitnet/fitnet_retinanet_r34w32-r18w16_fpn_500it_synthetic.py'
TEST_CFG = dict(score_thr=0.0, nms_pre=100, max_per_img=20)
# mmdet's RTMDet EMAHook, with gamma=1 (instead of 2000) so that the EMA
# momentum falls to 0.0002 at once and the EMA visibly lags in 4 iterations
RTMDET_EMA = dict(type='EMAHook', ema_type='ExpMomentumEMA', momentum=0.0002,
                  gamma=1, update_buffers=True, priority=49)


@pytest.fixture(scope='module', autouse=True)
def _single_thread():
    """One thread: faster for these tiny models on a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _train(make_tiny_config, teacher_ckpt, tmp_path, hooks, validate):
    """4 iterations (a checkpoint at 2 and 4, validation at 4 if asked);
    returns the runner after training."""
    config = make_tiny_config(BASE, textwrap.dedent(f"""
        model = dict(teacher_ckpt={teacher_ckpt!r},
                     student=dict(test_cfg={TEST_CFG!r}))
        custom_hooks = {hooks!r}
        """))
    cfg = Config.fromfile(config)
    if not validate:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.work_dir = str(tmp_path / 'work')
    cfg.experiment_name = f'export_{tmp_path.name}'
    runner = RUNNERS.build(cfg)
    runner.train()
    return runner


def _student(state_dict: dict) -> dict:
    return {k[len('student.'):]: v for k, v in state_dict.items()
            if k.startswith('student.')}


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _max_float_diff(a: dict, b: dict) -> float:
    return max((a[k] - b[k]).abs().max().item() for k in a
               if a[k].is_floating_point())


def test_exports_the_ema_student_under_an_emahook(make_tiny_config,
                                                  tiny_teacher_ckpt,
                                                  tmp_path):
    runner = _train(make_tiny_config, tiny_teacher_ckpt, tmp_path,
                    [RTMDET_EMA, dict(type='ExportStudentHook')],
                    validate=True)  # EMAHook swaps for val and back
    work = tmp_path / 'work'
    exported = torch.load(work / 'student_final.pth', map_location='cpu')
    ema_hook = next(h for h in runner.hooks if isinstance(h, EMAHook))
    ema = _student(ema_hook.ema_model.module.state_dict())
    raw = _student(runner.model.state_dict())

    assert exported['meta']['student_weights'] == 'ema'
    assert _same(exported['state_dict'], ema)
    # the raw weights trained on: not what was exported
    assert exported['state_dict'].keys() == raw.keys()
    assert _max_float_diff(exported['state_dict'], raw) > 1e-4
    # = the student of mmengine's last checkpoint (EMA swapped in on save)
    ckpt = torch.load(work / 'iter_4.pth', map_location='cpu')
    assert _same(exported['state_dict'], _student(ckpt['state_dict']))
    log = (work / runner.timestamp / f'{runner.timestamp}.log').read_text()
    assert 'the EMA weights of EMAHook' in log


def test_exports_the_model_student_without_an_emahook(make_tiny_config,
                                                      tiny_teacher_ckpt,
                                                      tmp_path):
    runner = _train(make_tiny_config, tiny_teacher_ckpt, tmp_path,
                    [dict(type='ExportStudentHook')], validate=False)
    work = tmp_path / 'work'
    exported = torch.load(work / 'student_final.pth', map_location='cpu')
    assert exported['meta']['student_weights'] == 'model'
    assert _same(exported['state_dict'], _student(runner.model.state_dict()))
    ckpt = torch.load(work / 'iter_4.pth', map_location='cpu')
    assert _same(exported['state_dict'], _student(ckpt['state_dict']))
    log = (work / runner.timestamp / f'{runner.timestamp}.log').read_text()
    assert 'the model weights' in log
