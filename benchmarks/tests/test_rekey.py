"""Records keep their meaning when a default changes: every distiller config
with a record states every option, and a config that comes to state the
defaults it ran with gets its records re-keyed only when nothing else
changed."""
import copy
import glob
import json
import os.path as osp

import pytest
from mmengine.config import Config

from benchmarks.paths import repo_path
from benchmarks.rekey import added_defaults, rekey_records, unstated_options
from benchmarks.run_records import RECORDS_DIR

ERA = 'configs/era/era_retinanet_r34w32-r18w16_fpn_500it_synthetic.py'


def _recorded_configs():
    configs = set()
    for path in glob.glob(osp.join(RECORDS_DIR, '*_seed*.json')):
        with open(path) as f:
            configs.add(json.load(f)['key']['config'])
    return sorted(c for c in configs if osp.isfile(repo_path(c)))


def test_every_distiller_config_with_a_record_states_every_option():
    configs = _recorded_configs()
    assert ERA in configs
    unstated = {c: unstated_options(Config.fromfile(repo_path(c)).model)
                for c in configs}
    assert not {c: u for c, u in unstated.items() if u}


def _era_model() -> dict:
    return json.loads(json.dumps(Config.fromfile(repo_path(ERA)).to_dict(),
                                 default=repr))


def test_unstated_options_name_the_nested_ones():
    model = _era_model()['model']
    assert unstated_options(model) == []
    del model['twi_precision'], model['mbrnet']['bottleneck_channels']
    assert unstated_options(model) == ['mbrnet.bottleneck_channels',
                                       'twi_precision']
    # a plain detector has no distiller options
    assert unstated_options(model['student']) == []
    # MBRNet left to its defaults leaves every one of its options
    model['mbrnet'] = None
    assert 'mbrnet.num_branches' in unstated_options(model)
    del model['mbrnet']
    assert {'mbrnet', 'mbrnet.num_branches'} <= set(unstated_options(model))


def test_only_added_defaults_pass():
    new = _era_model()
    old = copy.deepcopy(new)
    del old['model']['twi_precision'], old['model']['mbrnet']['norm_cfg']
    assert added_defaults(old, new) == ['mbrnet.norm_cfg', 'twi_precision']
    assert added_defaults(new, new) == []
    changed = copy.deepcopy(new)
    changed['model']['twi_mode'] = 'sampled'
    with pytest.raises(ValueError, match=r"model\.twi_mode changed"):
        added_defaults(new, changed)
    away = copy.deepcopy(new)
    away['model']['twi_precision'] = 'bf16'  # stated, but not the default
    with pytest.raises(ValueError, match="twi_precision = 'bf16' is not"):
        added_defaults(old, away)
    other = copy.deepcopy(new)
    other['train_cfg']['max_iters'] = 1000
    with pytest.raises(ValueError, match=r'train_cfg\.max_iters changed'):
        added_defaults(new, other)
    outside = copy.deepcopy(new)
    outside['train_cfg']['new_key'] = None  # added, but not an option
    with pytest.raises(ValueError, match=r'train_cfg\.new_key = None'):
        added_defaults(new, outside)
    unknown = copy.deepcopy(new)
    unknown['model']['no_such_option'] = 1.0
    with pytest.raises(ValueError, match='no such option'):
        added_defaults(new, unknown)
    removed = copy.deepcopy(new)
    del removed['model']['alpha']
    with pytest.raises(ValueError, match=r'model\.alpha changed'):
        added_defaults(new, removed)


def test_rekey_rewrites_only_the_records_of_the_old_key(tmp_path):
    config = 'configs/era/x_500it_synthetic.py'

    def record(seed, sha, cfg=config):
        path = tmp_path / f'x_500it_synthetic_seed{seed}.json'
        path.write_text(json.dumps(dict(
            key=dict(config=cfg, config_sha256=sha, seed=seed),
            source='trained here', run=dict(mAP=0.3))))
        return path

    same, stale = record(0, 'old'), record(1, 'older')
    other = record(2, 'old', cfg='configs/pkd/x_500it_synthetic.py')
    done = rekey_records(config, 'old', 'new', ['twi_precision'],
                         str(tmp_path))
    assert done == [str(same)]
    assert json.loads(other.read_text())['key']['config_sha256'] == 'old'
    rekeyed = json.loads(same.read_text())
    assert rekeyed['key']['config_sha256'] == 'new'
    assert rekeyed['run'] == dict(mAP=0.3)
    assert rekeyed['source'].startswith('trained here; re-keyed')
    assert 'twi_precision' in rekeyed['source']
    assert json.loads(stale.read_text())['key']['config_sha256'] == 'older'
