"""Which of ERA's inference modes a pair can run, and why not.

``'S'`` is the student alone, ``'T'`` the teacher's heads on MBRNet's last
approximation ``M_K`` (TWI), ``'ST'`` the blend of the student head's and the
TWI head's raw outputs decoded by the student head. The checks need only
what :class:`~mmera.models.era.ERADistiller` learnt of the pair when
it was built, so they live apart from its training step.
"""
from typing import Sequence

INFERENCE_MODES = ('S', 'T', 'ST')


def check_inference_mode(mode: str, alpha: float, *, has_twi: bool,
                         heads_match: bool, cascades: Sequence[str],
                         student_head: str, twi_head: str) -> None:
    """Raises a ValueError that names the fix when ``mode`` cannot run.

    Args:
        mode: ``'S'``, ``'T'`` or ``'ST'``.
        alpha: The ST blend factor, in [0, 1].
        has_twi: Whether the distiller has a TWI head (T and ST need it).
        heads_match: Whether the student head decodes the TWI head's raw
            outputs alike (ST needs it).
        cascades: ``'the student (CascadeRCNN)'``-style names of the sides
            with a cascade RoI head (ST refuses them).
        student_head: The student head's class name, for the message.
        twi_head: The TWI head's class name, for the message.

    Raises:
        ValueError: For an unknown mode, a mode the pair cannot run, or
            alpha outside [0, 1].
    """
    if mode not in INFERENCE_MODES:
        raise ValueError(f'ERADistiller: unknown inference mode {mode!r}; '
                         f'choose one of {INFERENCE_MODES}.')
    if mode != 'S' and not has_twi:
        raise ValueError(
            f'ERADistiller: inference mode {mode!r} runs the teacher\'s '
            'heads on the student\'s features (TWI), which this pair '
            'has not (twi_mode="none" without a usable teacher head); '
            'use mode "S".')
    if mode == 'ST' and cascades:
        raise ValueError(
            'ERADistiller: inference mode "ST" is not supported with '
            f'Cascade R-CNN ({" and ".join(cascades)} '
            f'{"have" if len(cascades) > 1 else "has"} a '
            'cascade RoI head): a cascade refines its boxes stage by '
            'stage and averages its stages\' class scores, so no single '
            'box head\'s outputs can be blended with the other '
            'detector\'s and decoded alike; use mode "S" (the student '
            'alone) or "T" (the teacher\'s heads on M_K).')
    if mode == 'ST' and not heads_match:
        raise ValueError(
            'ERADistiller: inference mode "ST" blends the raw outputs of '
            f'the student\'s head ({student_head}) and the '
            f'TWI head ({twi_head}) and decodes them with the '
            'student\'s, but the two decode differently (class, priors, '
            'strides, box coder or outputs differ; or the student has a '
            'mask head); use mode "S" or "T".')
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f'ERADistiller: alpha must be in [0, 1], got '
                         f'{alpha}.')


def head_name(detector) -> str:
    """The class name of a detector's box head (dense or RoI)."""
    head = getattr(detector, 'bbox_head', None)
    if head is None:
        head = getattr(getattr(detector, 'roi_head', None), 'bbox_head', None)
    return type(head).__name__
