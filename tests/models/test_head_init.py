"""load_strictly: the strict head loader ERADistiller(init_student_head=True)
and HeadInitHook share (their own tests: test_era_distiller.py,
tests/configs/test_peer_baseline_configs.py)."""
import pytest
import torch
from torch import nn

from mmera.models.common import load_strictly


def _head(width: int = 4, classes: int = 3) -> nn.Module:
    return nn.Sequential(nn.Conv2d(8, width, 3), nn.Conv2d(width, classes, 1))


def _load(module, weights):
    return load_strictly(
        module, weights, what='loading the head', name='bbox_head',
        prefix='bbox_head.', source='the teacher', target='the student',
        fix='Set the option to False.')


def test_loads_every_weight_by_value():
    student, teacher = _head(), _head()
    assert _load(student, teacher.state_dict()) == 4
    for s, t in zip(student.parameters(), teacher.parameters()):
        assert torch.equal(s, t) and s.data_ptr() != t.data_ptr()
        assert s.requires_grad


@pytest.mark.parametrize('width, weights, message', [
    (6, lambda t: t, r"loading the head: 3 have another shape \(e\.g\. "
     r"'bbox_head\.0\.weight': \(6, 8, 3, 3\) in the teacher, "
     r"\(4, 8, 3, 3\) in the student\)\. The head must have the same "
     r"class, widths, number of classes and priors as the teacher's; "
     r"nothing was loaded\. Set the option to False\.$"),
    (4, lambda t: {k: v for k, v in t.items() if k != '1.bias'},
     r"1 of the 4 weights of bbox_head are missing \(e\.g\. "
     r"'bbox_head\.1\.bias'\)"),
    (4, lambda t: {**t, 'extra': t['1.bias']},
     r"1 of its 'bbox_head\.' weights are unknown to the module \(e\.g\. "
     r"'bbox_head\.extra'\)"),
    (4, lambda t: {}, r"it has no weights under 'bbox_head\.'"),
])
def test_refuses_what_does_not_fit_and_loads_nothing(width, weights,
                                                     message):
    student, teacher = _head(), _head(width)
    before = {k: v.clone() for k, v in student.state_dict().items()}
    with pytest.raises(ValueError, match=message):
        _load(student, weights(teacher.state_dict()))
    after = student.state_dict()
    assert all(torch.equal(after[k], before[k]) for k in before)
