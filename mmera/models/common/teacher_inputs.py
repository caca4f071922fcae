"""The teacher's input: each image normalised as the teacher's own
``data_preprocessor`` would, not as the student's.

A distiller's batch comes out of the student's data preprocessor. A
caffe-style ResNet teacher (BGR, mean subtracted, std 1) and a pytorch-style
student (RGB, mean/std) see different tensors of the same image; feeding the
teacher the student's tensor gives it inputs it was never trained on.
"""
from typing import Optional

import torch
import torch.nn.functional as F
from mmdet.structures import OptSampleList
from mmengine.model import ImgDataPreprocessor
from torch import Tensor, nn


def _settings(preprocessor: Optional[nn.Module]):
    # (mean, std, swaps channels, pad value) of an ImgDataPreprocessor; the
    # identity for a detector without one.
    if preprocessor is None:
        return None, None, False, 0.0
    if not isinstance(preprocessor, ImgDataPreprocessor):
        raise ValueError(
            f'the teacher\'s input cannot be derived from the student\'s '
            f'through a {type(preprocessor).__name__}: mmera converts '
            'between image data preprocessors (mmdet\'s DetDataPreprocessor '
            'and other ImgDataPreprocessor subclasses).')
    normalise = getattr(preprocessor, '_enable_normalize', False)
    mean = preprocessor.mean.flatten() if normalise else None
    std = preprocessor.std.flatten() if normalise else None
    swap = bool(getattr(preprocessor, '_channel_conversion', False))
    return mean, std, swap, float(getattr(preprocessor, 'pad_value', 0.0))


class TeacherInputs(nn.Module):
    """Turns the student's normalised batch into the teacher's.

    ``raw = x * std_s + mean_s`` (in the student's channel order), the
    channels are reversed when exactly one preprocessor swaps BGR/RGB, then
    ``(raw - mean_t) / std_t``; the padding is set to the teacher's pad
    value, and the batch is padded further to the teacher's
    ``pad_size_divisor`` where it is not a multiple of it. With equal
    settings it returns the batch unchanged (no copy).

    Args:
        student_preprocessor: The student's (the distiller's) preprocessor.
        teacher_preprocessor: The teacher's own.
    """

    def __init__(self, student_preprocessor: Optional[nn.Module],
                 teacher_preprocessor: Optional[nn.Module]) -> None:
        super().__init__()
        s_mean, s_std, s_swap, s_pad = _settings(student_preprocessor)
        t_mean, t_std, t_swap, t_pad = _settings(teacher_preprocessor)
        _check_compatible(student_preprocessor, teacher_preprocessor,
                          s_mean, t_mean)
        self.swap = s_swap != t_swap
        self.same = (not self.swap and _equal(s_mean, t_mean)
                     and _equal(s_std, t_std) and s_pad == t_pad)
        three = torch.zeros(3)
        # Buffers, not persistent: they follow .to() but stay out of
        # checkpoints (the preprocessors are already in the configs).
        for name, value, default in (('s_mean', s_mean, 0.), ('s_std', s_std,
                                                               1.),
                                     ('t_mean', t_mean, 0.), ('t_std', t_std,
                                                              1.)):
            value = three + default if value is None else value.float()
            self.register_buffer(name, value.view(1, -1, 1, 1),
                                 persistent=False)
        self.t_pad = t_pad
        # the teacher's own padding multiple (e.g. 32 for ResNets, 1 for
        # RTMDet's preprocessor, whose pipeline pads to a fixed size)
        self.t_divisor = int(getattr(teacher_preprocessor,
                                     'pad_size_divisor', 1) or 1)

    def forward(self, batch_inputs: Tensor,
                batch_data_samples: OptSampleList = None) -> Tensor:
        """The batch as the teacher's preprocessor would give it.

        Args:
            batch_inputs: The student's normalised, padded (B, 3, H, W).
            batch_data_samples: Used for each image's unpadded
                ``img_shape``; without them the padding is converted like
                the image.

        Returns:
            Tensor: The teacher's input.
        """
        height, width = batch_inputs.shape[-2:]
        pad_h = -height % self.t_divisor
        pad_w = -width % self.t_divisor
        if self.same and not (pad_h or pad_w):
            return batch_inputs
        raw = batch_inputs * self.s_std + self.s_mean
        if self.swap:
            # The student's channel order is the reverse of the teacher's.
            raw = raw.flip(1)
        out = (raw - self.t_mean) / self.t_std
        if pad_h or pad_w:  # as the teacher's preprocessor pads its batch
            out = F.pad(out, (0, pad_w, 0, pad_h), value=self.t_pad)
        if batch_data_samples is not None:
            for i, sample in enumerate(batch_data_samples):
                img_h, img_w = sample.metainfo.get('img_shape',
                                                   (height, width))[:2]
                out[i, :, int(img_h):, :] = self.t_pad
                out[i, :, :, int(img_w):] = self.t_pad
        return out


def _check_compatible(student: Optional[nn.Module],
                      teacher: Optional[nn.Module], s_mean: Optional[Tensor],
                      t_mean: Optional[Tensor]) -> None:
    """Refuses what a per-pixel conversion cannot give the teacher: images
    of other channel counts."""
    if s_mean is not None and t_mean is not None and \
            s_mean.numel() != t_mean.numel():
        raise ValueError(
            f'the student\'s data preprocessor normalises '
            f'{s_mean.numel()} channels, the teacher\'s {t_mean.numel()}: '
            'student and teacher must read images with the same channels.')


def _equal(a: Optional[Tensor], b: Optional[Tensor]) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return a.shape == b.shape and bool(torch.allclose(a.float(), b.float()))
