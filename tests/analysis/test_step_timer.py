"""The step timer: N training steps of a built model on one fixed batch."""
import pytest
from mmengine.config import Config

from mmera.analysis.step_timer import (
    build_model,
    config_step_times,
    first_batch,
    frozen_optim_wrapper,
    schedule_points,
    time_train_steps,
)

# faster for these CPU steps on a shared 2-core machine
pytestmark = pytest.mark.usefixtures('one_thread')

STUDENT = 'configs/tiny/retinanet_r18w16_fpn_500it_synthetic.py'


def test_schedule_points_are_the_middles_of_equal_parts():
    assert schedule_points(500, 1) == [250]
    assert schedule_points(400, 4) == [50, 150, 250, 350]


def test_time_train_steps_keeps_the_weights_and_logs_each_step(
        make_tiny_config):
    tiny = make_tiny_config(STUDENT, 'img_scale = (64, 64)\n')
    cfg, model = build_model(tiny)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    seen = []
    timed = time_train_steps(model, first_batch(cfg),
                             frozen_optim_wrapper(model), iters=2, warmup=1,
                             at_iters=(10, 20), before=seen.append)
    assert seen == [10, 20]
    assert len(timed['times_ms']) == 4 and min(timed['times_ms']) > 0
    assert len(timed['log_vars']) == 4
    assert {'loss', 'loss_cls', 'loss_bbox'} <= set(timed['log_vars'][0])
    # learning rate 0: the step's full cost, the weights unchanged
    for key, value in model.state_dict().items():
        if value.is_floating_point() and 'running' not in key:
            assert value.equal(before[key]), key


@pytest.mark.parametrize('config', [
    STUDENT,
    'configs/sskd/sskd_retinanet_r34w32-r18w16_fpn_500it_synthetic.py',
])
def test_config_step_times(config, make_tiny_config, tiny_teacher_ckpt):
    tiny = make_tiny_config(config, 'img_scale = (64, 64)\n' + (
        f'model = dict(teacher_ckpt={tiny_teacher_ckpt!r})\n'
        if 'sskd' in config else ''))
    res = config_step_times(tiny, iters=1, points=2)
    assert len(res['times_ms']) == 2 and min(res['times_ms']) > 0
    assert res['max_iters'] == Config.fromfile(tiny).train_cfg.max_iters
