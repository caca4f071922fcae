"""The method -> config table and the training of every method."""
import os.path as osp

import pytest

from mmera.runs import methods
from mmera.runs.methods import (METHODS, PAIRS, config_of, train_methods,
                                uses_teacher)
from mmera.runs.teachers import SETS


@pytest.mark.parametrize('data', sorted(PAIRS))
def test_every_method_has_a_config_per_set(data):
    assert sorted(PAIRS) == sorted(SETS)
    for method in METHODS:
        assert osp.isfile(config_of(method, data)), (method, data)
    assert config_of('era', data).endswith(
        f'configs/era/era_retinanet_{PAIRS[data]}-r18w16_fpn_500it_{data}.py')
    assert not uses_teacher('student') and not uses_teacher('trunk_branch')
    assert uses_teacher('era')


def test_train_methods_gives_the_teacher_to_the_distillers(
        monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(methods, 'train', lambda *a, **kw: calls.append(
        (a, kw)))
    monkeypatch.setattr(methods, 'final_metrics',
                        lambda d: dict(mAP=0.5, mAP50=0.7))
    monkeypatch.setattr(methods, 'run_seconds', lambda d: 60.0)
    monkeypatch.setattr(methods, 'last_checkpoint',
                        lambda d: osp.join(d, 'iter_500.pth'))
    out = train_methods(['student', 'era'], 'synthetic', str(tmp_path),
                        '/t.pth', seed=3, reuse=False)
    assert calls == [
        ((config_of('student', 'synthetic'), str(tmp_path / 'student'),
          ['randomness.seed=3'], 'student'), dict(reuse=False)),
        ((config_of('era', 'synthetic'), str(tmp_path / 'era'),
          ['randomness.seed=3', 'model.teacher_ckpt=/t.pth'], 'era'),
         dict(reuse=False)),
    ]
    assert out['era'] == dict(mAP=0.5, mAP50=0.7, train_s=60.0,
                              checkpoint=str(tmp_path / 'era' /
                                             'iter_500.pth'))
