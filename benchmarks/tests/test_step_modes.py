"""The train-step benchmark's models, each timed in this process."""
import pytest

from benchmarks.step_modes import check_mode, run_single, write_teacher_ckpt

# faster for these CPU steps on a shared 2-core machine
pytestmark = pytest.mark.usefixtures('one_thread')


def test_run_single_modes(tmp_path):
    ckpt = str(tmp_path / 'teacher.pth')
    write_teacher_ckpt('tiny', ckpt)
    res = {mode: run_single(mode, 'tiny', 64, 1, 2, 0, 'cpu', ckpt)
           for mode in ('student', 'floor', 'era_sampled',
                        'era_notwi+bottleneck', 'era_sampled+bottleneck',
                        'era_sampled+bf16', 'era_cheap')}
    for mode, r in res.items():
        assert r['mode'] == mode and len(r['times_ms']) == 2
        assert r['median_ms'] > 0 and r['peak_mb'] > 0
        # memory above the imports: the peak minus what the process held
        # before building anything (here pytest's own peak so far)
        assert 0 < r['imports_mb'] <= r['peak_mb']
        assert r['net_peak_mb'] == pytest.approx(r['peak_mb'] -
                                                 r['imports_mb'])
    # the floor's teacher is frozen: the student's trainable parameters
    assert res['floor']['params_m'] == res['student']['params_m']
    assert res['era_sampled']['params_m'] > res['student']['params_m']
    assert {'era.loss_mimic', 'era.loss_twi', 'loss_cls'} <= set(
        res['era_sampled']['loss_keys'])
    # bottleneck branches: fewer trainable parameters than full-width ones,
    # and no TWI loss without TWI
    assert (res['student']['params_m'] <
            res['era_sampled+bottleneck']['params_m'] <
            res['era_sampled']['params_m'])
    assert 'era.loss_twi' in res['era_sampled+bottleneck']['loss_keys']
    assert 'era.loss_twi' not in res['era_notwi+bottleneck']['loss_keys']
    # era_cheap is the sampled bottleneck model (bf16 changes no parameter)
    assert res['era_cheap']['params_m'] == res['era_sampled+bottleneck'][
        'params_m']
    assert 'era.loss_twi' in res['era_cheap']['loss_keys']
    # which timed steps ran TWI: every one with the sampled mode, none
    # without ERA
    assert res['era_sampled']['twi_steps'] == [True, True]
    assert res['floor']['twi_steps'] == [False, False]
    assert res['era_cheap']['twi_steps'] == [True, True]
    # bf16 TWI: the same model, the same loss terms
    assert res['era_sampled+bf16']['params_m'] == res['era_sampled'][
        'params_m']
    assert res['era_sampled+bf16']['loss_keys'] == res['era_sampled'][
        'loss_keys']


def test_check_mode_names_the_modes():
    assert check_mode('era_all+bottleneck+bf16') == 'era_all+bottleneck+bf16'
    for bad in ('era_foo', 'floor+bf16', 'era_all+bf16+bf16', 'era_all+x'):
        with pytest.raises(ValueError, match='unknown mode'):
            check_mode(bad)


@pytest.mark.parametrize('config,keys', [
    ('tiny-fcos', {'loss_centerness', 'era.loss_twi'}),
    ('tiny-gfl', {'loss_dfl', 'era.loss_twi'}),
    ('tiny-rtmdet', {'loss_cls', 'era.loss_twi'}),
    ('tiny-fasterrcnn', {'loss_rpn_cls', 'loss_cls', 'era.loss_twi'}),
])
def test_one_stage_families_time_era(config, keys, tmp_path):
    ckpt = str(tmp_path / 'teacher.pth')
    write_teacher_ckpt(config, ckpt)
    for mode in ('floor', 'era_all'):
        r = run_single(mode, config, 64, 1, 1, 0, 'cpu', ckpt)
        assert r['median_ms'] > 0 and r['loss'] == r['loss']  # not NaN
    assert keys <= set(r['loss_keys'])
