"""A run's record (benchmarks.run_records): its key, what it keeps, and
that a record of another config, seed or teacher is never taken for it."""
import json
import os.path as osp

import pytest

from benchmarks import run_records
from benchmarks.paths import repo_path
from benchmarks.run_records import (
    compact_rows,
    config_sha256,
    load_record,
    read_curves,
    record_key,
    teacher_used,
    weights_sha256,
    write_record,
    write_teacher_used,
)

BASELINE = 'configs/tiny/retinanet_r18w16_fpn_500it_synthetic.py'


def _config(folder, root, lr=0.01):
    """A config naming a path under ``root`` (as the tiny configs name the
    checkout's data), written in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / 'cfg.py'
    path.write_text(
        f"data_root = '{root}/data/synthetic/'\n"
        "train_dataloader = dict(dataset=dict(data_root=data_root))\n"
        f"lr = {lr}\n")
    return str(path)


def test_the_same_config_in_another_checkout_has_the_same_sha(
        tmp_path, monkeypatch):
    shas = []
    # roots of different lengths: mmengine's pretty_text wraps the line of
    # a long path and not of a short one
    for i, root in enumerate(('/c', '/home/user/projects/a-much-longer-'
                              'checkout-path/of/another/clone/mmera')):
        monkeypatch.setattr(run_records, 'REPO_ROOT', root)
        shas.append(config_sha256(_config(tmp_path / f'clone{i}', root)))
    assert shas[0] == shas[1]
    # a changed value is another run
    assert config_sha256(_config(tmp_path / 'clone2', root, lr=0.02)) \
        != shas[1]


def test_key_of_a_repository_config():
    key = record_key(repo_path(BASELINE), 1, None)
    assert key == dict(config=BASELINE, config_sha256=config_sha256(
        repo_path(BASELINE)), seed=1, teacher_sha256=None)
    assert record_key(BASELINE, 1, None) == key  # relative works too
    assert len(key['config_sha256']) == 64


def test_compact_rows_keep_what_the_plots_read():
    rows = [{'step': 25, 'loss': 1.0, 'lr': 0.1, 'era.residual_k1_p0': 0.5,
             'era.loss_mimic': 0.2},
            {'coco/bbox_mAP': 0.1, 'coco/bbox_mAP_50': 0.2,
             'coco/bbox_mAP_s': 0.0, 'step': 0},
            {'time': 0.3}, {'step': 50, 'loss': 0.9}]  # the last: nothing
    assert compact_rows(rows) == [
        {'step': 25, 'era.residual_k1_p0': 0.5},
        {'coco/bbox_mAP': 0.1, 'coco/bbox_mAP_50': 0.2, 'step': 0}]


def test_a_record_is_read_back_only_for_its_key(tmp_path):
    records = str(tmp_path / 'runs')
    key = dict(config='c.py', config_sha256='a' * 64, seed=0,
               teacher_sha256='t1')
    run = dict(val_mAP=0.2, mAP=0.25, train_s=100.0)
    curves = dict(rows=[{'step': 500, 'coco/bbox_mAP': 0.2}],
                  alpha_sweep=None)
    path = write_record(records, 'era_seed0', key, run, curves)
    assert path == osp.join(records, 'era_seed0.json')
    record = load_record(records, 'era_seed0', key)
    assert record['run'] == run and record['curves'] == curves
    assert record['source'] == run_records.TRAINED
    assert read_curves(records, 'era_seed0') == curves
    for change in (dict(seed=1), dict(teacher_sha256='t2'),
                   dict(config_sha256='b' * 64), dict(config='d.py')):
        assert load_record(records, 'era_seed0', dict(key, **change)) is None
    assert load_record(records, 'other_seed0', key) is None
    assert load_record(None, 'era_seed0', key) is None


@pytest.mark.parametrize('text', ['{"key": ', '[1, 2]', '{"key": {}}'])
def test_an_unreadable_record_is_no_record(tmp_path, text):
    (tmp_path / 'r_seed0.json').write_text(text)
    key = dict(config='c.py', config_sha256='a', seed=0, teacher_sha256=None)
    assert load_record(str(tmp_path), 'r_seed0', key) is None
    empty = dict(rows=[], alpha_sweep=None)
    assert read_curves(str(tmp_path), 'r_seed0') == empty


def test_a_record_without_its_run_numbers_is_no_record(tmp_path):
    key = dict(config='c.py', config_sha256='a', seed=0, teacher_sha256=None)
    (tmp_path / 'r_seed0.json').write_text(json.dumps(dict(key=key)))
    assert load_record(str(tmp_path), 'r_seed0', key) is None


def test_the_teacher_a_run_used(tmp_path):
    assert teacher_used(str(tmp_path)) is None
    write_teacher_used(str(tmp_path), 'abc')
    assert teacher_used(str(tmp_path)) == 'abc'


def test_a_teacher_is_named_by_its_weights_not_its_file(tmp_path):
    """torch writes a random id into each file it saves: the same weights
    saved twice differ as files, never as weights."""
    import torch
    state = dict(state_dict=dict(w=torch.arange(4.), b=torch.zeros(0)))
    torch.save(state, tmp_path / 'a.pth')
    torch.save(state, tmp_path / 'b.pth')
    torch.save(dict(state_dict=dict(w=torch.arange(4.) + 1,
                                    b=torch.zeros(0))), tmp_path / 'c.pth')
    a, b, c = (weights_sha256(str(tmp_path / f'{n}.pth')) for n in 'abc')
    assert a == b != c


def test_a_teacher_and_its_shipped_float16_copy_are_one_teacher(tmp_path):
    """A trained teacher (float32) and the copy installed from its float16
    shipment name the same teacher; weights apart at float16 do not."""
    import torch
    w = torch.randn(64) / 3
    n = torch.tensor(2048)  # a BN counter: exact, whatever its size
    saved = dict(trained=dict(w=w, n=n),
                 installed=dict(w=w.half().float(), n=n),
                 other=dict(w=w * 1.01, n=n),
                 counted=dict(w=w, n=n + 1))
    for name, state in saved.items():
        torch.save(dict(state_dict=state), tmp_path / f'{name}.pth')
    trained, installed, other, counted = (
        weights_sha256(str(tmp_path / f'{n}.pth')) for n in saved)
    assert trained == installed
    assert len({trained, other, counted}) == 3
