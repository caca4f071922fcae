"""Feature MSE averaged over FPN levels, optionally teacher-normalised.

The feature losses of ERA (MBRNet), RKD and ResKD: per level
``MSE(pred_l, target_l) / n_l``, averaged over levels, with ``n_l`` 1
(``feature_norm='none'``) or the teacher level's variance
(``'teacher_std'``), which makes the loss scale-free across FPN levels and
teachers, so one loss weight fits them all.
"""
from typing import List, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

#: The ``feature_norm`` values every method accepts.
FEATURE_NORMS = ('none', 'teacher_std')
#: The default ``feature_norm`` of every method.
DEFAULT_FEATURE_NORM = 'teacher_std'


def check_feature_norm(owner: str,
                       feature_norm: str,
                       mimic_norm: Optional[str] = None) -> str:
    """Validates a ``feature_norm`` option; refuses the old ``mimic_norm``.

    Args:
        owner: The class whose option it is (named in the error).
        feature_norm: The value to check.
        mimic_norm: The removed option's value, if a config still gives it.

    Returns:
        str: ``feature_norm``.

    Raises:
        ValueError: For ``mimic_norm`` or an unknown ``feature_norm``.
    """
    if mimic_norm is not None:
        raise ValueError(
            f'{owner}: mimic_norm was renamed feature_norm (the same option '
            'in every method); write feature_norm={!r} instead of '
            'mimic_norm={!r} in the config.'.format(mimic_norm, mimic_norm))
    if feature_norm not in FEATURE_NORMS:
        raise ValueError(f'{owner}: unknown feature_norm {feature_norm!r}; '
                         f'choose one of {FEATURE_NORMS}.')
    return feature_norm


def teacher_level_norms(teacher_feats: Sequence[Tensor],
                        feature_norm: str) -> List[Tensor]:
    """The divisor ``n_l`` of each level (constants, no gradient).

    Computed once per step and shared by all the feature losses against
    the same teacher (the variance is the costly part).

    Args:
        teacher_feats: The teacher's features, one map per level.
        feature_norm: ``'teacher_std'``: each level's variance over all its
            elements, clamped at 1e-6 (a constant map would divide by 0);
            ``'none'``: 1.

    Returns:
        list: One scalar tensor per level.
    """
    check_feature_norm('teacher_level_norms', feature_norm)
    if feature_norm == 'teacher_std':
        return [t.detach().var().clamp(min=1e-6) for t in teacher_feats]
    return [teacher_feats[0].new_tensor(1.0)] * len(teacher_feats)


def feature_mse(preds: Sequence[Tensor], targets: Sequence[Tensor],
                norms: Sequence[Tensor]) -> Tensor:
    """``mean_l MSE(preds[l], targets[l]) / norms[l]``.

    Args:
        preds: The predicted features, one map per level.
        targets: What they should be (detached: targets are constants).
        norms: Each level's divisor (:func:`teacher_level_norms`).

    Returns:
        Tensor: The loss, a scalar (unweighted).
    """
    return torch.stack([
        F.mse_loss(p, t.detach()) / n
        for p, t, n in zip(preds, targets, norms)
    ]).mean()
