"""An mmdet FPN whose output convs are split into a student and an assistant.

RKD (Gao et al. 2020) trains a student ``S`` to mimic the teacher and an
assistant ``A`` to learn the residual ``T - S``; the head sees ``S + A``. To
keep the cost of the plain student, both are carved out of the student's own
FPN: every output conv ``y = W * x + b`` (a 3x3 conv, linear because mmdet's
FPN has no norm or activation on it by default) is split along its INPUT
channels at ``h``::

    S = W[:, :h] * x[:, :h] + b        A = W[:, h:] * x[:, h:]
    S + A = W * x + b                  (exactly the plain conv)

So the parameters are the plain student's, the multiply-adds are the same
(two half-width convs = one full conv, plus one add per output element), and
the deployed model is the unchanged plain student.
"""
from typing import List, Sequence, Tuple

import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmdet.models.necks import FPN
from torch import Tensor, nn

from mmera.utils.upstream import check_tested_version

Levels = List[Tensor]


class ResidualSplitFPN(nn.Module):
    """Runs an mmdet ``FPN`` and returns its outputs as ``(S, A)`` halves.

    The forward mirrors ``mmdet.models.necks.FPN.forward`` step by step
    (laterals, top-down path, output convs, extra levels); only each output
    conv is evaluated as two input-channel halves. Extra levels:

    * max-pool levels (``add_extra_convs=False``): ``max_pool2d(., 1, 2)`` is
      a pure subsampling, hence linear: it is applied to ``S`` and ``A``;
    * extra convs are split too. Their input is what the plain FPN feeds them:
      the backbone feature (``'on_input'``), the top lateral
      (``'on_lateral'``) or the previous output ``S + A`` (``'on_output'``,
      and always for P7 onwards, after a ReLU if
      ``relu_before_extra_convs``).

    Because P7's input is ``relu(S6 + A6)``, P7's ``A`` depends on P6's
    student half as well; on the backbone levels ``A`` depends only on
    ``W[:, h:]``.

    The FPN is a submodule (for standalone use and FLOP counting); a
    distiller that also owns the FPN keeps this wrapper outside its module
    tree so the parameters are not listed twice.

    Args:
        fpn: A built ``mmdet`` ``FPN`` (not a subclass: those change the
            forward) whose output convs have no norm and no activation.
        split_ratio: Fraction of each output conv's input channels that
            feeds the student half ``S`` (``h = round(ratio * C_in)``).

    Raises:
        ValueError: For a non-FPN neck, a norm or activation on an output
            conv, a conv the split cannot express, or a ratio leaving a half
            empty.
    """

    def __init__(self, fpn: nn.Module, split_ratio: float = 0.5) -> None:
        super().__init__()
        # forward() re-implements FPN.forward step by step
        check_tested_version('mmdet', 'ResidualSplitFPN (FPN.forward)')
        if type(fpn) is not FPN:
            raise ValueError(
                f'ResidualSplitFPN: the student neck is '
                f'{type(fpn).__name__}, but the residual split re-implements '
                'mmdet\'s FPN forward; use neck=dict(type="FPN", ...).')
        if not 0.0 < split_ratio < 1.0:
            raise ValueError(f'ResidualSplitFPN: split_ratio must be in '
                             f'(0, 1), got {split_ratio}.')
        self.fpn = fpn
        self.split_ratio = float(split_ratio)
        # input-channel split index of every output conv, checked up front
        self.split_index = [
            self._check_conv(i, conv) for i, conv in enumerate(fpn.fpn_convs)
        ]

    def _check_conv(self, index: int, module: nn.Module) -> int:
        where = f'ResidualSplitFPN: fpn_convs[{index}]'
        if not isinstance(module, ConvModule):
            raise ValueError(f'{where} is {type(module).__name__}, expected '
                             'an mmcv ConvModule.')
        if module.with_norm or module.with_activation:
            raise ValueError(
                f'{where} has a norm or an activation, so S + A would not '
                'equal the plain output conv; the split needs a linear '
                'output conv: set norm_cfg=None and act_cfg=None on the FPN.')
        conv = module.conv
        if (type(conv) is not nn.Conv2d or conv.groups != 1
                or conv.padding_mode != 'zeros'
                or module.with_explicit_padding):
            raise ValueError(
                f'{where} is not a plain zero-padded nn.Conv2d with '
                'groups=1 (conv_cfg or padding_mode changed it); the split '
                'cannot express it. Use the FPN\'s default conv_cfg.')
        split = int(round(self.split_ratio * conv.in_channels))
        if not 0 < split < conv.in_channels:
            raise ValueError(
                f'{where}: split_ratio {self.split_ratio} leaves one half of '
                f'its {conv.in_channels} input channels empty; choose a '
                'ratio nearer 0.5.')
        return split

    def split_conv(self, index: int, x: Tensor) -> Tuple[Tensor, Tensor]:
        """Evaluates ``fpn_convs[index]`` on ``x`` as its two halves.

        Returns:
            tuple: ``S`` (first ``h`` input channels, with the bias) and
            ``A`` (the remaining channels, no bias); ``S + A`` is the conv.
        """
        conv = self.fpn.fpn_convs[index].conv
        h = self.split_index[index]
        weight = conv.weight
        args = (conv.stride, conv.padding, conv.dilation)
        s = F.conv2d(x[:, :h], weight[:, :h], conv.bias, *args)
        a = F.conv2d(x[:, h:], weight[:, h:], None, *args)
        return s, a

    def forward(self, inputs: Sequence[Tensor]) -> Tuple[Levels, Levels]:
        """The FPN forward, split (see the class docstring).

        Args:
            inputs: The backbone features, as for ``FPN.forward``.

        Returns:
            tuple: ``(S, A)``, each a list of ``num_outs`` feature maps;
            ``S[l] + A[l]`` is the plain FPN's output ``l``.
        """
        fpn = self.fpn
        if len(inputs) != len(fpn.in_channels):
            raise ValueError(f'ResidualSplitFPN: got {len(inputs)} backbone '
                             f'features, the FPN expects '
                             f'{len(fpn.in_channels)}.')
        laterals = [
            lateral_conv(inputs[i + fpn.start_level])
            for i, lateral_conv in enumerate(fpn.lateral_convs)
        ]
        used_levels = len(laterals)
        for i in range(used_levels - 1, 0, -1):  # top-down, as mmdet
            if 'scale_factor' in fpn.upsample_cfg:
                up = F.interpolate(laterals[i], **fpn.upsample_cfg)
            else:
                up = F.interpolate(
                    laterals[i], size=laterals[i - 1].shape[2:],
                    **fpn.upsample_cfg)
            laterals[i - 1] = laterals[i - 1] + up

        s_outs, a_outs = [], []
        for i in range(used_levels):
            s, a = self.split_conv(i, laterals[i])
            s_outs.append(s)
            a_outs.append(a)
        if fpn.num_outs == used_levels:
            return s_outs, a_outs

        if not fpn.add_extra_convs:
            # kernel-1 max pooling only subsamples: linear, so split-safe
            for _ in range(fpn.num_outs - used_levels):
                s_outs.append(F.max_pool2d(s_outs[-1], 1, stride=2))
                a_outs.append(F.max_pool2d(a_outs[-1], 1, stride=2))
            return s_outs, a_outs

        if fpn.add_extra_convs == 'on_input':
            source = inputs[fpn.backbone_end_level - 1]
        elif fpn.add_extra_convs == 'on_lateral':
            source = laterals[-1]
        elif fpn.add_extra_convs == 'on_output':
            source = s_outs[-1] + a_outs[-1]
        else:
            raise ValueError(f'ResidualSplitFPN: unknown add_extra_convs '
                             f'{fpn.add_extra_convs!r}.')
        s, a = self.split_conv(used_levels, source)
        s_outs.append(s)
        a_outs.append(a)
        for i in range(used_levels + 1, fpn.num_outs):
            # the plain FPN's input to this conv: the full previous output
            source = s_outs[-1] + a_outs[-1]
            if fpn.relu_before_extra_convs:
                source = F.relu(source)
            s, a = self.split_conv(i, source)
            s_outs.append(s)
            a_outs.append(a)
        return s_outs, a_outs
