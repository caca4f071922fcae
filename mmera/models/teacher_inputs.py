"""The teacher's input: each image normalised as the teacher's own
``data_preprocessor`` would, not as the student's.

A distiller's batch comes out of the student's data preprocessor. A
caffe-style ResNet teacher (BGR, mean subtracted, std 1) and a pytorch-style
student (RGB, mean/std) see different tensors of the same image; feeding the
teacher the student's tensor gives it inputs it was never trained on.
"""
from typing import Optional

import torch
from torch import Tensor, nn

from mmdet.structures import OptSampleList


def _settings(preprocessor: Optional[nn.Module]):
    # (mean, std, swaps channels, pad value) of an ImgDataPreprocessor; the
    # identity for a detector without one.
    if preprocessor is None:
        return None, None, False, 0.0
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
    value. With equal settings it returns the batch unchanged (no copy).

    Args:
        student_preprocessor: The student's (the distiller's) preprocessor.
        teacher_preprocessor: The teacher's own.
    """

    def __init__(self, student_preprocessor: Optional[nn.Module],
                 teacher_preprocessor: Optional[nn.Module]) -> None:
        super().__init__()
        s_mean, s_std, s_swap, s_pad = _settings(student_preprocessor)
        t_mean, t_std, t_swap, t_pad = _settings(teacher_preprocessor)
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
        if self.same:
            return batch_inputs
        raw = batch_inputs * self.s_std + self.s_mean
        if self.swap:
            # The student's channel order is the reverse of the teacher's.
            raw = raw.flip(1)
        out = (raw - self.t_mean) / self.t_std
        if batch_data_samples is not None:
            for i, sample in enumerate(batch_data_samples):
                height, width = sample.metainfo.get(
                    'img_shape', out.shape[-2:])[:2]
                out[i, :, int(height):, :] = self.t_pad
                out[i, :, :, int(width):] = self.t_pad
        return out


def _equal(a: Optional[Tensor], b: Optional[Tensor]) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return a.shape == b.shape and bool(torch.allclose(a.float(), b.float()))
