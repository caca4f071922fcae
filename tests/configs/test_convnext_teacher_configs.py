"""The ERA and PKD COCO configs with mmdet's ConvNeXt-B RTMDet teacher
(``mmdet::rtmdet/rtmdet_l_convnext_b_4xb32-100e_coco.py``) -> RTMDet-m.

The teacher config imports ``mmpretrain.models`` (its backbone is
``mmpretrain.ConvNeXt``), and mmpretrain imports torchvision. Which branch of
:func:`test_era_config_builds_or_says_what_is_missing` runs depends on
whether ``import mmpretrain.models`` works here:

* it does not (this project's machines and CI: no torchvision works with
  their CPU torch build): building the ERA config's model must stop with an
  ImportError that names the teacher config, ``mmpretrain.models`` and
  torchvision (within seconds: it fails before the teacher is built);
* it does (a machine with mmpretrain and a matching torchvision): the ERA
  distiller is built with the teacher's backbone shrunk to ConvNeXt-pico
  (random weights, a checkpoint written by the test) and trains one SGD step
  on two 160 px images; the teacher is normalised its own way (RGB).

The config checks read the teacher config without importing its
``custom_imports``, so they run everywhere.
"""
import copy
import os.path as osp

import pytest
import torch
from cli_helpers import mmpretrain_imports
from coco_offline import (
    MMDET_CONFIGS,
    coco_batch,
    offline,
    teacher_ckpt_writer,
    without_scope,
    zoo_weights,
)
from mmdet.registry import MODELS
from mmdet.utils import register_all_modules
from mmengine.config import Config
from mmengine.optim import OptimWrapper

import mmera  # noqa: F401
from mmera.models import load_model_config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TEACHER = 'rtmdet/rtmdet_l_convnext_b_4xb32-100e_coco.py'
STUDENT = 'rtmdet/rtmdet_m_8xb32-300e_coco.py'
ERA = 'era/era_rtmdet_convnextb-m_cspnextpafpn_300e_coco.py'
PKD = 'pkd/pkd_rtmdet_convnextb-m_cspnextpafpn_300e_coco.py'
# The smallest mmpretrain ConvNeXt whose widths at out_indices (1, 2, 3)
# suit the teacher's GN(32) PAFPN: atto's (80, 160, 320) do not divide into
# 32 groups, pico's do. These widths become the neck's in_channels.
SMALL_ARCH, SMALL_WIDTHS = 'pico', [128, 256, 512]


def _load(config):
    return Config.fromfile(osp.join(REPO, 'configs', config))


@pytest.mark.parametrize('config', [ERA, PKD])
def test_config_names_mmdets_convnext_teacher(config):
    cfg = _load(config)
    assert cfg.model.type == ('ERADistiller'
                              if config == ERA else 'PKDDistiller')
    assert cfg.model.teacher_config == f'mmdet::{TEACHER}'
    # the student is mmdet's RTMDet-m unchanged
    assert without_scope(cfg.model.student) == without_scope(
        load_model_config(f'mmdet::{STUDENT}'))
    assert cfg.custom_imports.imports[0] == 'mmera'
    assert cfg.runner_type == 'mmdet.MMERARunner'
    hooks = [h['type'] for h in cfg.custom_hooks]
    assert hooks[:2] == ['EMAHook', 'PipelineSwitchHook']  # mmdet's, first
    assert hooks[-1] == 'ExportStudentHook'
    # the checkpoint mmdet's rtmdet metafile gives for the teacher (a
    # contributor's GitHub release, not download.openmmlab.com)
    assert zoo_weights(TEACHER) == [cfg.model.teacher_ckpt]
    if config == ERA:  # the heads differ in width (256 vs 192 channels)
        assert cfg.model.init_student_head is False


def test_teacher_config_needs_mmpretrain_and_reads_rgb():
    # read without importing mmpretrain.models: works without torchvision
    teacher = Config.fromfile(osp.join(MMDET_CONFIGS, TEACHER),
                              import_custom_modules=False)
    assert teacher.custom_imports.imports == ['mmpretrain.models']
    assert teacher.model.backbone.type == 'mmpretrain.ConvNeXt'
    assert teacher.model.neck.in_channels == [256, 512, 1024]
    assert teacher.model.data_preprocessor.bgr_to_rgb is True
    student = Config.fromfile(osp.join(MMDET_CONFIGS, STUDENT))
    assert student.model.data_preprocessor.bgr_to_rgb is False
    # different means too: TeacherInputs converts, it is not the identity
    assert (teacher.model.data_preprocessor.mean !=
            student.model.data_preprocessor.mean)


def test_load_model_config_names_a_failing_custom_import(tmp_path):
    path = tmp_path / 'needs_a_missing_module.py'
    path.write_text(
        "custom_imports = dict(imports=['mmera_no_such_module_xyz'], "
        'allow_failed_imports=False)\n'
        "model = dict(type='RetinaNet')\n")
    with pytest.raises(ImportError) as info:
        load_model_config(str(path))
    message = str(info.value)
    assert str(path) in message
    assert "['mmera_no_such_module_xyz']" in message
    assert "No module named 'mmera_no_such_module_xyz'" in message
    assert 'itself is not installed' in message
    assert 'without custom_imports' in message
    # mmengine's own error stays reachable as the cause
    assert 'Failed to import custom modules' in str(info.value.__cause__)


def test_era_config_builds_or_says_what_is_missing(tmp_path_factory):
    register_all_modules()
    cfg = _load(ERA)
    if not mmpretrain_imports():
        # the config itself loads; building the teacher from its config
        # stops with the cause and the fix
        with pytest.raises(ImportError) as info:
            MODELS.build(copy.deepcopy(cfg.model))
        message = str(info.value)
        assert osp.basename(TEACHER) in message, message
        assert 'mmpretrain.models' in message, message
        assert 'torchvision' in message, message
        return
    _one_step_with_a_small_teacher(cfg, tmp_path_factory)


def _one_step_with_a_small_teacher(cfg, tmp_path_factory):
    """One SGD step of the ERA config, its teacher's ConvNeXt-B shrunk to
    :data:`SMALL_ARCH` (random weights, loaded strictly from a written
    checkpoint); the teacher's neck and head stay mmdet's."""
    model_cfg = copy.deepcopy(cfg.model)
    teacher_cfg = offline(load_model_config(model_cfg.teacher_config))
    teacher_cfg.backbone.update(arch=SMALL_ARCH, with_cp=False,
                                drop_path_rate=0.0)
    teacher_cfg.neck.in_channels = SMALL_WIDTHS
    model_cfg.teacher_config = teacher_cfg
    model_cfg.student = offline(model_cfg.student)
    model_cfg.teacher_ckpt = teacher_ckpt_writer(tmp_path_factory)(
        teacher_cfg)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # faster on this shared machine
    try:
        torch.manual_seed(0)
        model = MODELS.build(model_cfg)
        model.init_weights()  # loads the teacher checkpoint strictly
        assert model.teacher_loaded
        # RGB with ImageNet mean/std vs the student's BGR: converted
        assert model.teacher_inputs.same is False

        teacher_before = {k: v.clone()
                          for k, v in model.teacher.state_dict().items()}
        params = [p for p in model.parameters() if p.requires_grad]
        optim = OptimWrapper(torch.optim.SGD(params, lr=1e-3))
        model.train()
        log_vars = model.train_step(coco_batch(), optim)
    finally:
        torch.set_num_threads(threads)
    assert torch.isfinite(log_vars['loss'])
    assert all(torch.isfinite(torch.as_tensor(v)).all()
               for k, v in log_vars.items() if 'loss' in k), log_vars
    assert 'era.loss_twi' in log_vars, log_vars
    after = model.teacher.state_dict()
    assert all(torch.equal(v, after[k]) for k, v in teacher_before.items())
    assert not model.teacher.training
