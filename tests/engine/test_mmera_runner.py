"""MMERARunner: a checkpoint appears only complete, and a crash
while saving never costs the previous checkpoints.

A real tiny RetinaNet trains 2 iterations in this process (checkpoint every
iteration, one kept); the crash is a disk-full error raised by the file
back-end after half of the bytes reached the disk, the way a full disk or a
killed job truncates a file.
"""
import errno
import hashlib

import pytest
import torch
from mmdet.registry import RUNNERS
from mmengine.config import Config
from mmengine.fileio import LocalBackend
from mmengine.hooks import CheckpointHook
from mmengine.runner import Runner

import mmera  # noqa: F401  (registers the runner; safe checkpoint loading)
from mmera.engine.runner import MMERARunner
from mmera.engine.runner.resumable_checkpoint_hook import (
    ResumableCheckpointHook,
)


@pytest.fixture(scope='module', autouse=True)
def _single_thread():
    """One thread: faster for these tiny models on a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def trained(tiny_student_config, tmp_path, request):
    """A runner after 2 iterations: iter_2.pth kept, iter_1.pth deleted."""
    cfg = Config.fromfile(tiny_student_config)
    assert cfg.runner_type == 'mmdet.MMERARunner'  # declared by the config
    cfg.work_dir = str(tmp_path / 'work')
    cfg.experiment_name = f'atomic_{request.node.name}'
    cfg.train_cfg.max_iters = 2
    cfg.default_hooks.checkpoint.update(
        interval=1, max_keep_ckpts=1, save_best='coco/bbox_mAP',
        rule='greater')
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    runner = RUNNERS.build(cfg)
    runner.train()
    return runner


def _fill_disk(monkeypatch) -> None:
    """Makes every local write stop half-way with ENOSPC (no space left)."""
    def put_half(self, obj, filepath):
        with open(filepath, 'wb') as f:
            f.write(obj[:len(obj) // 2])
        raise OSError(errno.ENOSPC, 'No space left on device', str(filepath))
    monkeypatch.setattr(LocalBackend, 'put', put_half)


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _checkpoint_hook(runner) -> CheckpointHook:
    return next(h for h in runner.hooks if isinstance(h, CheckpointHook))


def test_saves_are_complete_and_a_crash_mid_write_keeps_the_old_file(
        trained, tmp_path, monkeypatch):
    work = tmp_path / 'work'
    assert isinstance(trained, MMERARunner)
    assert type(_checkpoint_hook(trained)) is ResumableCheckpointHook
    # normal saves: the kept checkpoint, complete, and no temporary file
    names = sorted(p.name for p in work.iterdir())
    assert 'iter_2.pth' in names and 'iter_1.pth' not in names
    assert not [n for n in names if '.tmp-' in n], names
    assert (work / 'last_checkpoint').read_text() == str(work / 'iter_2.pth')
    ckpt = torch.load(work / 'iter_2.pth', map_location='cpu')
    assert ckpt['meta']['iter'] == 2
    assert set(ckpt) >= {'state_dict', 'optimizer', 'param_schedulers',
                         'message_hub', 'rng_state'}
    assert ckpt['message_hub']['runtime_info']['keep_ckpt_ids'] == [2]

    before = _sha(work / 'iter_2.pth')
    _fill_disk(monkeypatch)
    for name in ('iter_2.pth', 'iter_3.pth'):  # overwrite, new name
        with pytest.raises(OSError, match='No space left'):
            trained.save_checkpoint(str(work), name)
    assert _sha(work / 'iter_2.pth') == before
    assert not (work / 'iter_3.pth').exists()
    assert not [p for p in work.iterdir() if '.tmp-' in p.name]

    # mmengine's own method leaves a truncated file under the final name
    with pytest.raises(OSError):
        Runner.save_checkpoint(trained, str(work), 'plain.pth')
    with pytest.raises(Exception):
        torch.load(work / 'plain.pth', map_location='cpu')


def test_checkpoints_are_deleted_only_after_the_new_one_is_written(
        trained, tmp_path, monkeypatch):
    work = tmp_path / 'work'
    hook = _checkpoint_hook(trained)
    normal_put = LocalBackend.put

    # max_keep_ckpts=1: a failed save of iter_3 must not cost iter_2
    _fill_disk(monkeypatch)
    with pytest.raises(OSError):
        hook.after_train_iter(trained, batch_idx=0)
    assert sorted(p.name for p in work.glob('*.pth')) == ['iter_2.pth']
    assert (work / 'last_checkpoint').read_text() == str(work / 'iter_2.pth')
    assert trained.message_hub.get_info('keep_ckpt_ids') == [2]
    torch.load(work / 'iter_2.pth', map_location='cpu')

    # best checkpoints: the previous best survives a failed save of the next
    monkeypatch.setattr(LocalBackend, 'put', normal_put)
    hook.after_val_epoch(trained, {'coco/bbox_mAP': 0.1})
    first_best = work / 'best_coco_bbox_mAP_iter_2.pth'
    assert first_best.is_file()
    trained.train_loop._iter = 3  # a later validation with a better score
    _fill_disk(monkeypatch)
    with pytest.raises(OSError):
        hook.after_val_epoch(trained, {'coco/bbox_mAP': 0.2})
    assert first_best.is_file()  # mmengine would have deleted it already
    assert not (work / 'best_coco_bbox_mAP_iter_3.pth').exists()
    monkeypatch.setattr(LocalBackend, 'put', normal_put)
    hook.after_val_epoch(trained, {'coco/bbox_mAP': 0.3})
    assert (work / 'best_coco_bbox_mAP_iter_3.pth').is_file()
    assert not first_best.exists()
    hook.after_val_epoch(trained, {'coco/bbox_mAP': 0.05})  # worse: no-op
    assert (work / 'best_coco_bbox_mAP_iter_3.pth').is_file()
    # the best step's checkpoint was written again, replacing iter_2
    assert sorted(p.name for p in work.glob('iter_*.pth')) == ['iter_3.pth']

    # mmengine's CheckpointHook deletes iter_3 before writing iter_4: after
    # the same crash no checkpoint is left to resume from
    stock = CheckpointHook(interval=1, max_keep_ckpts=1, by_epoch=False)
    stock.before_train(trained)
    _fill_disk(monkeypatch)
    with pytest.raises(OSError):
        stock.after_train_iter(trained, batch_idx=0)
    assert not list(work.glob('iter_*.pth'))
