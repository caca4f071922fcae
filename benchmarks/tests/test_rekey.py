"""Records keep their meaning when a default changes: every distiller config
with a record states every option, and a config that comes to state the
defaults it ran with gets its records re-keyed only when nothing else
changed."""
import copy
import glob
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
from mmengine.config import Config

from benchmarks.paths import REPO_ROOT, repo_path
from benchmarks.rekey import added_defaults, rekey_records, unstated_options
from benchmarks.run_records import RECORDS_DIR, config_sha256

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
    del old['model']['alpha'], old['model']['mbrnet']['norm_cfg']
    assert added_defaults(old, new) == ['alpha', 'mbrnet.norm_cfg']
    assert added_defaults(new, new) == []
    changed = copy.deepcopy(new)
    changed['model']['twi_mode'] = 'sampled'
    with pytest.raises(ValueError, match=r"model\.twi_mode changed"):
        added_defaults(new, changed)
    away = copy.deepcopy(new)
    away['model']['alpha'] = 0.3  # stated, but not the default
    with pytest.raises(ValueError, match='alpha = 0.3 is not'):
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


#: git with no user or system configuration (no signing, no hooks)
GIT_ENV = dict(os.environ, GIT_CONFIG_GLOBAL=os.devnull,
               GIT_CONFIG_NOSYSTEM='1')


def _rekey(clone, *args):
    """``python -m benchmarks.rekey`` run from ``clone`` on its own code."""
    env = dict(GIT_ENV, PYTHONPATH=str(clone), OMP_NUM_THREADS='1')
    return subprocess.run([sys.executable, '-m', 'benchmarks.rekey', *args],
                          cwd=clone, env=env, capture_output=True,
                          text=True, timeout=300)


def test_the_command_rekeys_a_config_that_came_to_state_a_default(tmp_path):
    """The whole path in a clone: a committed config that left
    ``inference_mode`` to its default, the working tree stating it; the
    record keyed by the committed config moves to the new key, and a
    changed value or an uncommitted package is refused, writing nothing.
    The clone holds the checkout's last commit: the test covers the
    committed code."""
    clone = tmp_path / 'clone'
    subprocess.run(['git', 'clone', '-q', '--shared', REPO_ROOT,
                    str(clone)], check=True, env=GIT_ENV, timeout=120)
    git = ['git', '-C', str(clone), '-c', 'user.name=t',
           '-c', 'user.email=t@t']
    config = clone / ERA
    stated = config.read_text()
    assert "    inference_mode='S',\n" in stated
    config.write_text(stated.replace("    inference_mode='S',\n", ''))
    subprocess.run(git + ['commit', '-qam', 'leave it', '--no-verify'],
                   check=True, env=GIT_ENV, timeout=120)
    old_sha = config_sha256(str(config), str(clone))
    config.write_text(stated)
    records = tmp_path / 'runs'
    records.mkdir()
    record = records / (osp.splitext(osp.basename(ERA))[0] +
                        '_seed0.json')
    record.write_text(json.dumps(dict(
        key=dict(config=ERA, config_sha256=old_sha, seed=0),
        source='trained', run=dict(mAP=0.26))))

    done = _rekey(clone, ERA, '--records-dir', str(records))
    assert done.returncode == 0, done.stderr
    assert '1 default(s) stated, 1 record(s) re-keyed' in done.stdout
    key = json.loads(record.read_text())['key']['config_sha256']
    assert key == config_sha256(str(config), str(clone)) != old_sha
    rekeyed = record.read_text()

    config.write_text(stated.replace("inference_mode='S'",
                                     "inference_mode='T'"))
    refused = _rekey(clone, ERA, '--records-dir', str(records))
    assert refused.returncode != 0
    assert "inference_mode = 'T' is not an option at its default" in \
        refused.stderr
    assert record.read_text() == rekeyed
    config.write_text(stated)
    with open(clone / 'mmera' / '__init__.py', 'a') as f:
        f.write('\n')
    dirty = _rekey(clone, ERA, '--records-dir', str(records))
    assert dirty.returncode != 0 and 'mmera/ has uncommitted' in dirty.stderr
    assert record.read_text() == rekeyed
