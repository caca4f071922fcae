"""The teachers kept with the repository: fp16 weights, a checksum, the
command, curve and log of their run; installed back as float32 only when the
checksum and the teacher config match."""
import glob
import json
import os
import os.path as osp
import subprocess

import pytest
import torch
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.registry import init_default_scope

from benchmarks import shipped_teachers, teachers
from benchmarks.paths import REPO_ROOT
from benchmarks.run_records import RECORDS_DIR, weights_sha256
from benchmarks.shipped_teachers import (
    install_shipped,
    sha256,
    ship,
    shipped_files,
    teacher_checkpoint,
)
from benchmarks.teachers import SETS, ensure_teacher, teacher_config

CONFIG = 'configs/tiny/retinanet_r18w16_fpn_500it_synthetic.py'
TRAIN = osp.join(REPO_ROOT, 'tools', 'train.py')


@pytest.fixture
def finished_run(tmp_path):
    """A finished tools/train.py run of a tiny real RetinaNet: its
    checkpoint, ``last_checkpoint``, the done marker, scalars and a log."""
    cfg = Config.fromfile(osp.join(REPO_ROOT, CONFIG)).model
    cfg.backbone.init_cfg = None
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    model.init_weights()
    work = tmp_path / 'teacher_tiny'
    (work / '20260101_000000' / 'vis_data').mkdir(parents=True)
    ckpt = work / 'iter_20.pth'
    torch.save({'meta': {'iter': 20}, 'state_dict': model.state_dict(),
                'optimizer': {'state': {}}}, ckpt)
    (work / 'last_checkpoint').write_text(str(ckpt))
    (work / 'demo_done.json').write_text(json.dumps(
        {'cmd': [TRAIN, osp.join(REPO_ROOT, CONFIG)], 'seconds': 12.5}))
    rows = [{'coco/bbox_mAP': m, 'coco/bbox_mAP_50': 2 * m, 'step': s}
            for s, m in ((10, 0.1), (20, 0.2))]
    (work / '20260101_000000' / 'vis_data' / 'scalars.json').write_text(
        '\n'.join(json.dumps(r) for r in rows))
    (work / '20260101_000000' / '20260101_000000.log').write_text('the log\n')
    return work, model


def test_ship_then_install_round_trips_in_fp16(finished_run, tmp_path):
    work, model = finished_run
    root = str(tmp_path / 'teachers')
    os.makedirs(root)
    weights = ship(str(work), 'teacher_tiny', CONFIG, root)
    files = shipped_files('teacher_tiny', root)
    assert weights == files['weights']
    # fp16 alone: about half the float32 state dict, no optimizer state
    full = sum(v.numel() * v.element_size()
               for v in model.state_dict().values())
    assert os.path.getsize(weights) < 0.6 * full
    record = json.load(open(files['record']))
    assert record['config'] == CONFIG and record['iterations'] == 20
    assert record['command'] == [TRAIN, osp.join(REPO_ROOT, CONFIG)]
    assert record['checkpoint'] == 'iter_20.pth'  # no best kept: the last
    assert record['metrics'] == {'mAP': 0.2, 'mAP50': 0.4}
    assert [r['iter'] for r in record['val_curve']] == [10, 20]
    assert open(files['log']).read() == 'the log\n'
    # SHA256SUMS is what `sha256sum -c` reads
    subprocess.run(['sha256sum', '--quiet', '-c', 'SHA256SUMS'], cwd=root,
                   check=True)

    out = str(tmp_path / 'teacher.pth')
    assert install_shipped('teacher_tiny', CONFIG, out, root)
    loaded = torch.load(out, map_location='cpu', weights_only=True)
    assert loaded['meta']['sha256'] == sha256(weights)
    state = model.state_dict()
    assert set(loaded['state_dict']) == set(state)
    for key, value in state.items():
        got = loaded['state_dict'][key]
        assert got.dtype == value.dtype, key
        torch.testing.assert_close(got, value.half().to(value.dtype))
    # it loads strictly into the teacher's model
    model.load_state_dict(loaded['state_dict'], strict=True)


def test_the_best_validation_checkpoint_is_the_teacher(finished_run,
                                                       tmp_path):
    """A run that kept its best validation's checkpoint ships that one, with
    that validation's metrics (a small set overfits before the end)."""
    work, model = finished_run
    best = work / 'best_coco_bbox_mAP_iter_10.pth'
    state = {k: torch.zeros_like(v) for k, v in model.state_dict().items()}
    torch.save({'meta': {'iter': 10}, 'state_dict': state}, best)
    assert teacher_checkpoint(str(work)) == str(best)
    root = str(tmp_path / 'teachers')
    ship(str(work), 'teacher_tiny', CONFIG, root)
    record = json.load(open(shipped_files('teacher_tiny', root)['record']))
    assert record['checkpoint'] == best.name and record['iterations'] == 10
    assert record['metrics'] == {'mAP': 0.1, 'mAP50': 0.2}
    out = str(tmp_path / 'teacher.pth')
    assert install_shipped('teacher_tiny', CONFIG, out, root)
    loaded = torch.load(out, weights_only=True)['state_dict']
    assert all(not v.any() for v in loaded.values() if v.is_floating_point())


def test_install_refuses_a_stale_or_corrupt_copy(finished_run, tmp_path):
    work, _ = finished_run
    root = str(tmp_path / 'teachers')
    os.makedirs(root)
    ship(str(work), 'teacher_tiny', CONFIG, root)
    out = str(tmp_path / 'teacher.pth')
    # a run of another config is not shipped as this one
    with pytest.raises(ValueError, match='holds a run of .*not of configs/'
                       'other.py: train it first'):
        ship(str(work), 'teacher_tiny', 'configs/other.py', root)
    # another teacher config today: not this copy; none shipped: nothing
    assert not install_shipped('teacher_tiny', 'configs/other.py', out, root)
    assert not install_shipped('teacher_none', CONFIG, out, root)
    assert not osp.exists(out)
    with open(shipped_files('teacher_tiny', root)['weights'], 'r+b') as f:
        f.seek(100)
        f.write(b'\x00\x01\x02')
    with pytest.raises(ValueError, match='fails its checksum.*git checkout '
                       '-- teachers/.*make teachers RETRAIN=1'):
        install_shipped('teacher_tiny', CONFIG, out, root)
    assert not osp.exists(out)


def test_ensure_teacher_installs_the_shipped_copy(finished_run, tmp_path,
                                                  monkeypatch):
    """No teacher.pth yet: the shipped copy of the set's teacher config is
    installed, nothing trains; with ``retrain`` it trains. Without a shipped
    copy, ``train_missing=False`` (a report) trains nothing either."""
    work, _ = finished_run
    root = str(tmp_path / 'teachers')
    os.makedirs(root)
    config = teachers._teacher_config_rel('synthetic', 'retinanet')
    (work / 'demo_done.json').write_text(json.dumps(
        {'cmd': [TRAIN, osp.join(REPO_ROOT, config)], 'seconds': 1.0}))
    ship(str(work), 'teacher_synthetic', config, root)
    monkeypatch.setattr(teachers, 'WORK_DIRS', str(tmp_path / 'work_dirs'))
    monkeypatch.setattr(shipped_teachers, 'repo_path',
                        lambda rel: osp.join(str(tmp_path), rel))
    trained = []
    monkeypatch.setattr(teachers, 'train', lambda *a, **k: trained.append(a))
    os.rename(root, root + '.away')  # nothing shipped
    assert ensure_teacher('synthetic', train_missing=False) is None
    assert not trained
    os.rename(root + '.away', root)
    path = ensure_teacher('synthetic', train_missing=False)
    assert osp.isfile(path) and not trained
    os.remove(path)
    path = ensure_teacher('synthetic')
    assert path == str(tmp_path / 'work_dirs' / 'teacher_synthetic' /
                       'teacher.pth')
    assert osp.isfile(path) and not trained
    # no run of it here: its metrics are the ones shipped with it
    assert teachers.teacher_metrics('synthetic') == {'mAP': 0.2,
                                                     'mAP50': 0.4}
    with pytest.raises(FileNotFoundError):  # the fake train wrote nothing
        ensure_teacher('synthetic', retrain=True)
    assert len(trained) == 1


#: (set, detector) of every teacher kept in teachers/, read from the folder
#: so that a newly shipped teacher is checked without naming it here
SHIPPED = [(data, det) for data in sorted(SETS)
           for det in teachers.detectors(data)
           if osp.isfile(shipped_teachers.shipped_files(
               teachers.teacher_name(data, det))['weights'])]


def test_every_file_in_the_teachers_folder_is_a_known_teacher():
    listed = {teachers.teacher_name(d, det) + '.fp16.pth'
              for d, det in SHIPPED}
    on_disk = {osp.basename(p) for p in glob.glob(
        osp.join(REPO_ROOT, 'teachers', '*.fp16.pth'))}
    assert on_disk == listed
    assert ('synthetic', 'gfl-32000it-192') in SHIPPED


@pytest.mark.parametrize('data,detector', SHIPPED)
def test_shipped_teachers_verify_and_load_into_their_config(
        data, detector, tmp_path):
    """Every shipped teacher is in teachers/: its copy passes its checksum
    and loads strictly into its teacher config's model."""
    name = teachers.teacher_name(data, detector)
    files = shipped_files(name)
    assert osp.isfile(files['weights']), f'no teacher shipped as {name}'
    config = teachers._teacher_config_rel(data, detector)
    out = str(tmp_path / 'teacher.pth')
    assert install_shipped(name, config, out), \
        f'{files["weights"]} was trained from another config than {config}'
    init_default_scope('mmdet')  # the detector builds its preprocessor
    cfg = Config.fromfile(teacher_config(data, detector)).model
    cfg.backbone.init_cfg = None
    model = MODELS.build(cfg)
    model.load_state_dict(torch.load(out, weights_only=True)['state_dict'],
                          strict=True)


def test_the_committed_records_name_the_shipped_teachers(tmp_path):
    """Every distilled run recorded in docs/results/runs/ learned from a
    shipped teacher, named by its weights: a fresh clone, which installs
    the same teachers, reuses those records instead of training again."""
    shipped = set()
    for data, detector in SHIPPED:
        name = teachers.teacher_name(data, detector)
        out = str(tmp_path / f'{name}.pth')
        assert install_shipped(
            name, teachers._teacher_config_rel(data, detector), out)
        shipped.add(weights_sha256(out))
    named = set()
    for path in glob.glob(osp.join(RECORDS_DIR, '*.json')):
        with open(path) as f:
            key = json.load(f).get('key')
        if isinstance(key, dict) and key.get('teacher_sha256'):
            named.add(key['teacher_sha256'])
    assert named and named <= shipped, named - shipped
