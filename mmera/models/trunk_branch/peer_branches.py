"""Peer branches: K single-layer residual branches on the trunk's FPN."""
import math
from typing import List, Sequence, Tuple

import torch
from torch import Tensor, nn

Levels = List[Tensor]

BRANCH_LAYERS = ('conv', 'separable')


class PeerBranches(nn.Module):
    """K lightweight peers of the trunk, one layer each, for training only.

    Branch ``b`` turns the trunk's FPN feature ``F`` (every level, weights
    shared across levels as RetinaHead shares its convs) into

        ``F_b = F + r_b``,  ``r_b = layer_b(F)``

    and the detector's own head then scores ``F_b``. ``layer_b`` is linear
    (no norm, no activation: a single layer):

    - ``'conv'``: a 3x3 conv C->C (9C^2 parameters; a 3x3 receptive field
      like one more head conv, so a peer can move its boxes and scores
      spatially, not only re-weight channels);
    - ``'separable'``: depthwise 3x3 followed by pointwise 1x1 without
      anything between them (one linear 3x3 map of rank-structured weights,
      about 1/9 of the parameters and FLOPs at 256 channels).

    Init: small *random* weights, N(0, init_scale^2 / fan_in), bias 0, so
    ``r_b`` has about ``init_scale`` times the RMS of ``F`` at any width: the
    peers start next to the trunk (their detection losses start at the
    trunk's) yet distinct. Zero init would be a trap: all peers would then
    see the same features, get the same gradients and stay identical
    forever, and their correlation (see :class:`DecorrelationLoss`) would be
    0/0.

    ``detach_input=True`` feeds ``layer_b`` a detached copy of ``F``: the
    branch layers learn from the branches' losses and the decorrelation loss,
    while the trunk receives a branch's detection gradient only through the
    skip path ``F_b = F + ...`` and no gradient at all from the decorrelation
    loss (a diversity regulariser of the peers should not reshape the
    deployed trunk's features). It costs nothing: one forward either way.

    Args:
        channels: Channels of the FPN features.
        num_branches: K >= 2 (an ensemble and a decorrelation need peers).
        layer: ``'conv'`` or ``'separable'``.
        init_scale: RMS of ``r_b`` relative to ``F`` at init (> 0).
        detach_input: See above.
    """

    def __init__(self,
                 channels: int,
                 num_branches: int = 3,
                 layer: str = 'conv',
                 init_scale: float = 0.1,
                 detach_input: bool = True) -> None:
        super().__init__()
        if num_branches < 2:
            raise ValueError(
                f'PeerBranches: num_branches must be >= 2 (the trunk learns '
                f'from an ensemble of peers kept apart by a decorrelation '
                f'loss), got {num_branches}.')
        if layer not in BRANCH_LAYERS:
            raise ValueError(f'PeerBranches: unknown layer {layer!r}; choose '
                             f'one of {BRANCH_LAYERS}.')
        if not init_scale > 0:
            raise ValueError(f'PeerBranches: init_scale must be > 0 (zero '
                             f'init keeps all peers identical), got '
                             f'{init_scale}.')
        self.num_branches = num_branches
        self.layer = layer
        self.init_scale = float(init_scale)
        self.detach_input = detach_input
        self.branches = nn.ModuleList(
            _make_layer(layer, channels) for _ in range(num_branches))
        self.init_weights()

    def init_weights(self) -> None:
        """Small random weights (see class docstring); biases zero."""
        for branch in self.branches:
            convs = [m for m in branch.modules() if isinstance(m, nn.Conv2d)]
            for i, conv in enumerate(convs):
                fan_in = conv.weight[0].numel()
                # only the last conv of a branch sets the output scale; a
                # depthwise conv before it keeps its input's scale (gain 1)
                gain = self.init_scale if i == len(convs) - 1 else 1.0
                nn.init.normal_(conv.weight, std=gain / math.sqrt(fan_in))
                if conv.bias is not None:
                    nn.init.zeros_(conv.bias)

    def forward(self, feats: Sequence[Tensor]) -> Tuple[Levels, Levels]:
        """Runs every branch on every level.

        Args:
            feats: The trunk's FPN features, one (B, C, H, W) per level.

        Returns:
            tuple: ``branch_feats`` (per level, (K*B, C, H, W), branch-major:
            rows ``b*B:(b+1)*B`` are branch b, ready for one batched head
            pass) and ``residuals`` (per level, (K, B, C, H, W): the ``r_b``
            the decorrelation loss compares).
        """
        branch_feats, residuals = [], []
        for feat in feats:
            source = feat.detach() if self.detach_input else feat
            res = torch.stack([branch(source) for branch in self.branches])
            residuals.append(res)
            branch_feats.append((feat.unsqueeze(0) + res).flatten(0, 1))
        return branch_feats, residuals

    @staticmethod
    def ensemble(outputs: Sequence[Tensor], num_branches: int) -> Levels:
        """The peers' mean, detached: a target for the trunk, never trained.

        Args:
            outputs: Per level, a head output for the K*B branch rows
                (branch-major, as :meth:`forward` batches them): class
                logits or box deltas.
            num_branches: K.

        Returns:
            list: Per level, the (B, ...) mean over the K branches.
        """
        return [
            out.detach().unflatten(0, (num_branches, -1)).mean(0)
            for out in outputs
        ]


def _make_layer(layer: str, channels: int) -> nn.Module:
    if layer == 'conv':
        return nn.Conv2d(channels, channels, 3, padding=1)
    return nn.Sequential(
        nn.Conv2d(channels, channels, 3, padding=1, groups=channels,
                  bias=False),
        nn.Conv2d(channels, channels, 1))
