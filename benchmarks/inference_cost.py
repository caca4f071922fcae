"""What ERA's inference modes give and cost, per ERA config of the results.

Measures each config's S, T and ST modes (:func:`mmera.analysis.
inference_cost.era_mode_costs`: FLOPs per image and ``predict`` latency on
one image at the config's test size, ratios to S) into
:data:`COSTS` (committed), and makes the documentation's ``era-modes``
block from them and the run records: each recorded ERA config's S, T and
best-alpha ST val mAP (its last alpha sweep: alpha 0 is S, 1 is T) beside
what each mode costs::

    python -m benchmarks.inference_cost            # every ERA config below
    python -m benchmarks.inference_cost --configs configs/era/X.py
"""
import argparse
import json
import os.path as osp
import platform
from typing import Dict, List, Optional, Sequence

import torch

from mmera.utils.atomic_files import write_text_atomic

from .paths import repo_path
from .run_records import RECORDS_DIR, records_of
from .seed_stats import fmt_ms, mean_std
from .suites import LONG_SCHEDULE_SUITES, SUITES

#: the measured costs: config -> size, modes (mode -> costs), machine
COSTS = repo_path('docs/results/inference_cost.json')
#: the suites whose ERA configs the block reports
SUITES_REPORTED = ('synthetic-retinanet', 'synthetic-gfl',
                   'deepforest-retinanet', 'synthetic-ablations',
                   *LONG_SCHEDULE_SUITES)


def era_configs(suites: Sequence[str] = SUITES_REPORTED) -> List[str]:
    """The ERA configs (``configs/era/``) of ``suites``, in order."""
    return list(dict.fromkeys(
        c for s in suites for c in SUITES[s].methods.values()
        if c.startswith('configs/era/')))


def load_costs(path: str = COSTS) -> Dict[str, dict]:
    """The recorded costs (empty where none are)."""
    if not osp.exists(path):
        return {}
    with open(path) as f:
        return json.load(f)


def measure(configs: Sequence[str], repeats: int = 5,
            path: str = COSTS) -> Dict[str, dict]:
    """Measures ``configs`` (random weights: no teacher checkpoint needed)
    and records them beside the costs measured before."""
    from mmera.analysis.inference_cost import era_mode_costs
    from mmera.analysis.pair_report import config_input_size
    from mmera.analysis.step_timer import build_model
    # a config that is gone takes its costs with it
    costs = {c: v for c, v in load_costs(path).items()
             if osp.isfile(repo_path(c))}
    for config in configs:
        size = config_input_size(repo_path(config))
        _, model = build_model(repo_path(config), random_teacher=True)
        costs[config] = dict(
            size=size, modes=era_mode_costs(model, size, repeats),
            machine=f'{platform.machine()}, {torch.get_num_threads()} '
            f'thread(s), torch {torch.__version__}')
        write_text_atomic(path, json.dumps(costs, indent=1, sort_keys=True)
                          + '\n')
        print(config, {m: round(c['ms_ratio'], 2)
                       for m, c in costs[config]['modes'].items()})
    return costs


def _sweeps(config: str, records_dir: str) -> List[dict]:
    """The last alpha sweep of each recorded seed of ``config``."""
    sweeps = [(record.get('curves') or {}).get('alpha_sweep')
              for _, _, record in records_of(config, records_dir)]
    return [s['results'] for s in sweeps if s]


def _cost(modes: Dict[str, dict], mode: str) -> str:
    row = modes.get(mode)
    return '-' if row is None else (
        f"{row['gflops']:.2f} / {row['ms_ratio']:.2f}x")


def modes_block(records_dir: str = RECORDS_DIR,
                path: str = COSTS) -> List[str]:
    """The ``era-modes`` block: per ERA config with recorded alpha sweeps,
    S, T and best-alpha ST val mAP (mean +- std over seeds) and each mode's
    GFLOPs per image / latency as a ratio to S."""
    costs = load_costs(path)
    lines = ['| config | seeds | S mAP | T mAP | best ST mAP (alpha) | '
             'S: GFLOPs / latency | T | ST |',
             '|---|---|---|---|---|---|---|---|']
    for config in era_configs():
        sweeps = _sweeps(config, records_dir)
        if not sweeps:
            continue

        def stat(alpha: str) -> str:
            return fmt_ms(mean_std(
                [s[alpha]['coco/bbox_mAP'] for s in sweeps if alpha in s]),
                count=False)
        best = [max(s.items(), key=lambda kv: kv[1]['coco/bbox_mAP'])
                for s in sweeps]
        alphas = sorted({a for a, _ in best}, key=float)
        st = fmt_ms(mean_std([m['coco/bbox_mAP'] for _, m in best]),
                    count=False)
        modes = costs.get(config, {}).get('modes', {})
        lines.append(
            f'| `{osp.basename(config)}` | {len(sweeps)} | {stat("0.0")} | '
            f'{stat("1.0")} | {st} ({", ".join(alphas)}) | '
            f'{_cost(modes, "S")} | {_cost(modes, "T")} | '
            f'{_cost(modes, "ST")} |')
    return lines


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Measures the configs asked (default: every reported ERA config)."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--configs', nargs='+', default=era_configs())
    parser.add_argument('--repeats', type=int, default=10)
    args = parser.parse_args(argv)
    measure(args.configs, args.repeats)


if __name__ == '__main__':
    main()
