"""The two methods of the pair probe that are no mmera distiller.

* ``LD``: mmdet's own Localization Distillation, a
  ``KnowledgeDistillationSingleStageDetector`` whose student head is an
  ``LDHead`` (as the ``configs/ld`` configs build it);
* ``head-init``: the plain student whose head starts from the teacher's
  (what ``HeadInitHook`` does with a teacher checkpoint, here with the
  teacher module's own weights, through the same strict loader).

Each builder takes the two detectors' model dicts and returns the model
that trains, or raises a ``ValueError`` that says why the pair does not fit.
"""
from mmdet.registry import MODELS
from mmengine.config import ConfigDict
from torch import nn

from mmera.models.common.head_init import load_strictly

#: The heads mmdet's LD reads box-side distributions from.
GFL_HEADS = ('GFLHead', 'LDHead')


def build_ld(student: ConfigDict, teacher: ConfigDict) -> nn.Module:
    """mmdet's LD detector for the pair (the teacher built, not loaded).

    Raises:
        ValueError: Where a detector has no GFL head, the heads' ``reg_max``
            or strides differ, or the student is not single-stage.
    """
    s_head = student.get('bbox_head') or {}
    t_head = teacher.get('bbox_head') or {}
    if s_head.get('type') not in GFL_HEADS or \
            t_head.get('type') not in GFL_HEADS:
        raise ValueError(
            "LD: mmdet's LD (KnowledgeDistillationSingleStageDetector with "
            'an LDHead) distils the box-side distributions of a GFL head '
            'into a GFL head; the student has '
            f"{s_head.get('type', 'no bbox_head')}, the teacher "
            f"{t_head.get('type', 'no bbox_head')}. Use GFL detectors, or "
            'CrossKD, ERA or a feature method.')
    if s_head.get('reg_max', 16) != t_head.get('reg_max', 16):
        raise ValueError(
            "LD: the heads' reg_max differ (student "
            f"{s_head.get('reg_max', 16)}, teacher "
            f"{t_head.get('reg_max', 16)}): LD compares the two "
            'distributions bin by bin. Give both the same reg_max.')
    if 'rpn_head' in student or 'roi_head' in student:
        raise ValueError('LD: the student must be a single-stage detector.')
    model = MODELS.build(dict(
        student, type='KnowledgeDistillationSingleStageDetector',
        teacher_config=dict(model=teacher), teacher_ckpt=None,
        bbox_head=dict(s_head, type='LDHead', loss_ld=dict(
            type='KnowledgeDistillationKLDivLoss', loss_weight=0.25, T=10))))
    strides = [g.prior_generator.strides
               for g in (model.bbox_head, model.teacher_model.bbox_head)]
    if strides[0] != strides[1]:
        raise ValueError(
            f'LD: the heads read other strides (student {strides[0]}, '
            f'teacher {strides[1]}); LD pairs their predictions level by '
            'level. Give both necks the same levels.')
    return model


def head_module(student: ConfigDict) -> str:
    """The head ``head-init`` loads: the dense head, else the RoI head."""
    return 'bbox_head' if 'bbox_head' in student else 'roi_head'


def build_head_init(student: ConfigDict, teacher: ConfigDict) -> nn.Module:
    """The student with its head loaded from the (built) teacher's.

    Raises:
        ValueError: Where the teacher has no such head or its weights do not
            fit the student's (the message of ``HeadInitHook``'s loader).
    """
    module = head_module(student)
    if module not in teacher:
        raise ValueError(
            f"head-init: HeadInitHook loads the teacher's {module} into the "
            f'student\'s, and the teacher has none (its heads: '
            f"{[k for k in teacher if k.endswith('head')]}).")
    model = MODELS.build(student)
    source = MODELS.build(teacher).get_submodule(module)
    load_strictly(
        model.get_submodule(module), source.state_dict(),
        what=f"head-init: HeadInitHook loads the teacher's {module}, which "
        "does not fit the student's", name=module, prefix=module + '.',
        source='the teacher', target='the student',
        fix="Give the student the teacher's head, or point the hook's "
        'module at a head they share.')
    return model
