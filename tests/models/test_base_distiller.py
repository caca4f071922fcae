"""What every distiller inherits from BaseDistiller: the non-finite loss
guard, the teacher-free mode and the shared pair checks."""
import copy

import pytest
import torch
from mmdet.registry import MODELS
from mmengine.logging import MessageHub
from mmengine.optim import build_optim_wrapper

from mmera.models import BaseDistiller


def _era(student_cfg, teacher_cfg, ckpt):
    model = MODELS.build(
        dict(type='ERADistiller', student=copy.deepcopy(student_cfg),
             teacher_config=copy.deepcopy(teacher_cfg), teacher_ckpt=ckpt))
    model.init_weights()
    return model


@pytest.fixture
def nan_teacher_ckpt(teacher_cfg, tmp_path):
    """A teacher whose FPN output convs are NaN: its features are NaN."""
    torch.manual_seed(0)
    teacher = MODELS.build(copy.deepcopy(teacher_cfg))
    state = teacher.state_dict()
    for key in state:
        if key.startswith('neck.fpn_convs') and key.endswith('weight'):
            state[key] = torch.full_like(state[key], float('nan'))
    path = tmp_path / 'nan_teacher.pth'
    torch.save({'state_dict': state}, str(path))
    return str(path)


def test_non_finite_distill_loss_stops_before_the_optimizer_step(
        student_cfg, teacher_cfg, nan_teacher_ckpt, batch):
    model = _era(student_cfg, teacher_cfg, nan_teacher_ckpt)
    model.train()
    optim = build_optim_wrapper(
        model, dict(optimizer=dict(type='SGD', lr=0.1)))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    MessageHub.get_current_instance().update_info('iter', 17)
    inputs, samples = batch
    with pytest.raises(FloatingPointError) as err:
        model.train_step(dict(inputs=inputs, data_samples=samples), optim)
    message = str(err.value)
    assert "'era.loss_mimic'" in message
    assert 'iteration 17' in message
    assert 'resume' in message
    # nothing was stepped: every weight is still the finite one from before
    # (BN running statistics did move: the forward ran in train mode)
    for key, param in model.named_parameters():
        assert torch.equal(param, before[key]), key
        assert torch.isfinite(param).all(), key


def test_finite_losses_pass_the_guard(student_cfg, teacher_cfg, teacher_ckpt,
                                      batch):
    model = _era(student_cfg, teacher_cfg, teacher_ckpt)
    inputs, samples = batch
    losses = model.loss(inputs, samples)
    assert all(torch.isfinite(sum(v) if isinstance(v, list) else v).all()
               for k, v in losses.items() if 'loss' in k)
    # a student loss that turns NaN is caught as well, by its own name
    with pytest.raises(FloatingPointError, match="'loss_cls'"):
        model.check_finite({'loss_cls': [torch.tensor(float('inf'))]})


class _StudentOnly(BaseDistiller):
    """The smallest concrete distiller: the student's own losses."""

    def loss(self, batch_inputs, batch_data_samples):
        return self.merge_losses(
            self.student.loss(batch_inputs, batch_data_samples), {}, 'none')


def test_teacher_free_base_has_no_teacher(student_cfg, batch):
    model = _StudentOnly(student=copy.deepcopy(student_cfg))
    assert model.teacher is None and model.teacher_loaded
    model.init_weights()  # loads nothing
    model.train()
    assert model.pair_detectors() == (64, None)
    assert model.pairing.strides == (8, 16, 32, 64, 128)
    with pytest.raises(RuntimeError, match='has no teacher'):
        model.teacher_features(batch[0])
    assert set(k.split('.')[0] for k in model.state_dict()) == {'student'}
    assert torch.isfinite(model.loss(*batch)['loss_cls'][0])


def test_era_refuses_a_missing_teacher_config(student_cfg):
    with pytest.raises(ValueError, match='ERADistiller needs a teacher'):
        MODELS.build(dict(type='ERADistiller',
                          student=copy.deepcopy(student_cfg)))


def test_pair_checks_name_the_method(student_cfg, teacher_cfg):
    teacher_cfg.neck.num_outs = 4
    model = _StudentOnly(student=copy.deepcopy(student_cfg),
                         teacher_config=teacher_cfg)
    with pytest.raises(ValueError, match=r'_StudentOnly combines every level '
                       r'.*\(FPN\) returns strides \[8, 16, 32, 64, 128\], '
                       r'the teacher.s \(FPN\) \[8, 16, 32, 64\]'):
        model.pair_detectors(all_levels=True)
    # methods that pair common strides pair the four
    assert model.pair_detectors() == (64, 64)
    assert model.pairing.strides == (8, 16, 32, 64)
    feats_s = [torch.zeros(1, 4, 8, 8)]
    feats_t = [torch.zeros(1, 4, 16, 16)]
    with pytest.raises(ValueError, match=r'level 0 is \(8, 8\) in the '
                       r'student but \(16, 16\)'):
        model.check_feature_shapes(feats_s, feats_t)
