"""The era-modes block: S is alpha 0 of a run's last alpha sweep, T alpha
1, ST the best alpha, over the recorded seeds, beside the recorded costs."""
import json

from benchmarks import inference_cost

CONFIG = 'configs/era/era_retinanet_r34w32-r18w16_fpn_500it_synthetic.py'


def _record(tmp_path, seed, maps):
    sweep = {a: {'coco/bbox_mAP': m} for a, m in maps.items()}
    (tmp_path / f'era_retinanet_r34w32-r18w16_fpn_500it_synthetic_seed'
     f'{seed}.json').write_text(json.dumps(dict(
         key=dict(config=CONFIG, seed=seed), run={},
         curves=dict(alpha_sweep=dict(iter=500, results=sweep)))))


def test_modes_block_reads_the_sweeps_and_costs(tmp_path):
    _record(tmp_path, 0, {'0.0': 0.2, '0.5': 0.5, '1.0': 0.4})
    _record(tmp_path, 1, {'0.0': 0.3, '0.5': 0.4, '1.0': 0.6})
    costs = tmp_path / 'costs.json'
    costs.write_text(json.dumps({CONFIG: dict(size=320, modes=dict(
        S=dict(gflops=1.0, ms_ratio=1.0), T=dict(gflops=1.5, ms_ratio=1.25),
        ST=dict(gflops=2.0, ms_ratio=1.75)))}))
    lines = inference_cost.modes_block(str(tmp_path), str(costs))
    assert len(lines) == 3  # the one recorded config
    cells = lines[2].strip('| ').split(' | ')
    assert cells[:2] == ['`' + CONFIG.split('/')[-1] + '`', '2']
    assert cells[2] == '0.250 +- 0.071' and cells[3] == '0.500 +- 0.141'
    # best alpha: 0.5 on seed 0 (0.5), 1.0 on seed 1 (0.6)
    assert cells[4] == '0.550 +- 0.071 (0.5, 1.0)'
    assert cells[5:] == ['1.00 / 1.00x', '1.50 / 1.25x', '2.00 / 1.75x']
