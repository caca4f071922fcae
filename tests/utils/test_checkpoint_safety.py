"""mmengine checkpoints load under ``weights_only=True`` without disabling
it."""
import copyreg
import pickle

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub

import mmera  # noqa: F401  (registers the reducer and the allow-list)
from mmera.utils import checkpoint_safe_globals, upgrade_checkpoint


def _message_hub_checkpoint():
    hub = MessageHub.get_instance('mmera_test_hub')
    for i in range(5):
        hub.update_scalar('train/loss', 1.0 / (i + 1))
    hub.update_info('eta', np.float64(12.5))
    return {
        'meta': {'iter': 5, 'classes': ('a', 'b')},
        'state_dict': {'w': torch.arange(6.).reshape(2, 3)},
        'message_hub': hub.state_dict(),
    }


def test_message_hub_round_trips_with_weights_only(tmp_path):
    ckpt = _message_hub_checkpoint()
    path = tmp_path / 'ckpt.pth'
    torch.save(ckpt, path)
    # torch's default is weights_only=True; say it explicitly anyway
    loaded = torch.load(path, weights_only=True)
    buf = loaded['message_hub']['log_scalars']['train/loss']
    assert isinstance(buf, HistoryBuffer)
    src = ckpt['message_hub']['log_scalars']['train/loss']
    np.testing.assert_array_equal(buf.data[0], src.data[0])
    np.testing.assert_array_equal(buf.data[1], src.data[1])
    assert buf.max_length == src.max_length
    assert buf.mean() == pytest.approx(src.mean())  # statistics still work
    assert loaded['message_hub']['runtime_info']['eta'] == 12.5
    assert torch.equal(loaded['state_dict']['w'], ckpt['state_dict']['w'])


class _Untrusted:
    """A class nobody allow-listed."""

    def __init__(self):
        self.payload = 'x'


def test_safety_is_not_disabled(tmp_path):
    path = tmp_path / 'untrusted.pth'
    torch.save({'obj': _Untrusted()}, path)
    with pytest.raises(pickle.UnpicklingError, match='_Untrusted'):
        torch.load(path)
    # getattr is the door to arbitrary code; it must stay closed
    allowed = checkpoint_safe_globals()
    assert getattr not in allowed and eval not in allowed
    path = tmp_path / 'getattr.pth'
    torch.save({'f': getattr(HistoryBuffer, 'mean')}, path)
    with pytest.raises(pickle.UnpicklingError, match='getattr'):
        torch.load(path)


def test_legacy_checkpoint_needs_upgrade(tmp_path):
    ckpt = _message_hub_checkpoint()
    legacy, upgraded = tmp_path / 'legacy.pth', tmp_path / 'new.pth'
    # what plain mmengine writes: HistoryBuffer pickled with its functions
    reducer = copyreg.dispatch_table.pop(HistoryBuffer)
    try:
        torch.save(ckpt, legacy)
    finally:
        copyreg.dispatch_table[HistoryBuffer] = reducer
    with pytest.raises(pickle.UnpicklingError, match='HistoryBuffer'):
        torch.load(legacy)
    upgrade_checkpoint(str(legacy), str(upgraded))
    loaded = torch.load(upgraded)
    assert isinstance(loaded['message_hub']['log_scalars']['train/loss'],
                      HistoryBuffer)


def test_malformed_history_buffer_state_is_rejected():
    from mmera.utils.checkpoint_safety import rebuild_history_buffer
    with pytest.raises(TypeError, match='malformed HistoryBuffer'):
        rebuild_history_buffer('rm -rf', [], 10)
