"""One method's cost as the method benchmark measures it, on tiny configs."""
import pytest

from mmera.runs import method_cost


# faster for these CPU steps on a shared 2-core machine
pytestmark = pytest.mark.usefixtures('one_thread')


@pytest.mark.parametrize('method, config', [
    ('student', 'configs/tiny/retinanet_r18w16_fpn_500it_synthetic.py'),
    ('reskd', 'configs/reskd/'
     'reskd_retinanet_r34w32-r18w16_fpn_500it_synthetic.py'),
])
def test_measure(method, config, make_tiny_config, tiny_teacher_ckpt,
                 monkeypatch):
    tiny = make_tiny_config(config, 'img_scale = (64, 64)\n')
    monkeypatch.setattr(method_cost, 'config_of', lambda m, d: tiny)
    res = method_cost.measure(method, 'synthetic', tiny_teacher_ckpt,
                              iters=2, points=1)
    assert res['gflops'] > 0 and res['params_m'] > 0
    assert len(res['times_ms']) == 2 and min(res['times_ms']) > 0
    if method == 'reskd':  # 4 val images at adaptive depths 0..2
        assert sum(res['depth_histogram']) == 4
        assert res['all_gflops'] > res['gflops']
        assert 0 <= res['mean_depth'] <= 2
