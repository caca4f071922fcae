"""The train-step benchmark's models, each timed in this process."""
import pytest
import torch

from mmera.runs.train_step import run_single, write_teacher_ckpt


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_run_single_modes(tmp_path):
    ckpt = str(tmp_path / 'teacher.pth')
    write_teacher_ckpt('tiny', ckpt)
    res = {mode: run_single(mode, 'tiny', 64, 1, 2, 0, 'cpu', ckpt)
           for mode in ('student', 'floor', 'era_sampled')}
    for mode, r in res.items():
        assert r['mode'] == mode and len(r['times_ms']) == 2
        assert r['median_ms'] > 0 and r['peak_mb'] > 0
    # the floor's teacher is frozen: the student's trainable parameters
    assert res['floor']['params_m'] == res['student']['params_m']
    assert res['era_sampled']['params_m'] > res['student']['params_m']
    assert {'era.loss_mimic', 'era.loss_twi', 'loss_cls'} <= set(
        res['era_sampled']['loss_keys'])
