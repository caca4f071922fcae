"""One SGD step of a built distiller, checked as the offline config tests
check it: a finite loss, a changed student, an untouched teacher."""
from typing import Dict

import torch
from mmengine.optim import OptimWrapper
from torch import Tensor, nn


def train_one_step(model: nn.Module, batch: dict,
                   lr: float = 1e-3) -> Dict[str, Tensor]:
    """Runs ``model.train_step(batch)`` with plain SGD on its trainable
    parameters and asserts that the loss is finite, some student weight
    changed, and no teacher weight did.

    Returns:
        dict: The step's ``log_vars``.
    """
    teacher_before = {k: v.clone()
                      for k, v in model.teacher.state_dict().items()}
    student_before = {k: v.clone()
                      for k, v in model.student.state_dict().items()}
    params = [p for p in model.parameters() if p.requires_grad]
    model.train()
    log_vars = model.train_step(
        batch, OptimWrapper(torch.optim.SGD(params, lr=lr)))
    assert torch.isfinite(log_vars['loss'])
    after = model.teacher.state_dict()
    assert all(torch.equal(v, after[k]) for k, v in teacher_before.items())
    after = model.student.state_dict()
    assert any(not torch.equal(v, after[k])
               for k, v in student_before.items())
    return log_vars
