"""Each mmera hook checks, when training starts, that the model has what the
hook uses, and refuses a model it does not fit with a message naming both."""
import os.path as osp
from types import SimpleNamespace

import pytest
import torch
from cli_helpers import REPO_ROOT
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.registry import init_default_scope

import mmera  # noqa: F401  (registers mmera's components)
from mmera.engine import (
    AlphaSweepHook,
    DistillLossWarmupHook,
    ExportStudentHook,
    SSKDStageHook,
)

CONFIGS = osp.join(REPO_ROOT, 'configs')


def _model(path):
    init_default_scope('mmdet')
    torch.manual_seed(0)
    return MODELS.build(Config.fromfile(osp.join(CONFIGS, path)).model)


@pytest.fixture(scope='module')
def student():
    return _model('tiny/retinanet_r18w16_fpn_500it_synthetic.py')


@pytest.fixture(scope='module')
def reskd():
    return _model(
        'reskd/reskd_retinanet_r34w32-r18w16_fpn_500it_synthetic.py')


@pytest.fixture(scope='module')
def era():
    return _model('era/era_retinanet_r34w32-r18w16_fpn_500it_synthetic.py')


def test_alpha_sweep_refuses_reskd_whose_set_inference_mode_differs(reskd):
    # ResKD has set_inference_mode(mode, skip_rule) and inference_mode, but
    # no ST blend: the hook used to crash reading model.alpha
    with pytest.raises(TypeError) as err:
        AlphaSweepHook(alphas=[0.0, 1.0]).before_train(
            SimpleNamespace(model=reskd))
    message = str(err.value)
    assert 'AlphaSweepHook' in message and 'ResKDDistiller' in message
    assert 'has no alpha' in message and 'ERADistiller' in message
    assert 'Remove AlphaSweepHook from custom_hooks' in message


@pytest.mark.parametrize('hook, missing', [
    (AlphaSweepHook(alphas=[0.5]), 'set_inference_mode, inference_mode, '
     'alpha'),
    (DistillLossWarmupHook(warmup_iters=2), 'distill_loss_factor'),
    (ExportStudentHook(), 'student'),
])
def test_hooks_refuse_a_plain_detector(hook, missing, student):
    with pytest.raises(TypeError) as err:
        hook.before_train(SimpleNamespace(model=student))
    message = str(err.value)
    assert type(hook).__name__ in message and 'RetinaNet' in message
    assert f'has no {missing}' in message


def test_sskd_hook_refuses_another_distiller(era):
    with pytest.raises(ValueError, match='SSKDStageHook switches the phases '
                       'of an SSKDDistiller, but the model is a '
                       'ERADistiller'):
        SSKDStageHook(stage_boundaries=[2, 4]).before_train(
            SimpleNamespace(model=era))


def test_hooks_accept_the_model_they_fit_inside_a_wrapper(era):
    from mmengine.registry import MODEL_WRAPPERS

    @MODEL_WRAPPERS.register_module(force=True)
    class _TestWrapper(torch.nn.Module):
        """Stands for DDP: a registered wrapper holding ``module``."""

        def __init__(self, module):
            super().__init__()
            self.module = module

    runner = SimpleNamespace(model=_TestWrapper(era))
    for hook in (AlphaSweepHook(alphas=[0.5]),
                 DistillLossWarmupHook(warmup_iters=2), ExportStudentHook()):
        hook.before_train(runner)  # no error
    assert DistillLossWarmupHook._model(runner) is era
