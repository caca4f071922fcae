"""Decorrelation loss: keeps K peer branches' outputs apart."""
from typing import Sequence, Union

import torch
from mmdet.registry import MODELS
from torch import Tensor, nn

from ..common.utils import check_weight


@MODELS.register_module()
class DecorrelationLoss(nn.Module):
    """Mean squared Pearson correlation between K branches' outputs.

    For every sample n (and every FPN level), each branch's output
    ``x_b`` (C*H*W values) is flattened, centred and scaled to unit norm;
    ``rho_bc = <x_b, x_c>`` is then their Pearson correlation, and

        ``loss = loss_weight * mean_{levels, n, b<c} rho_bc^2``.

    Why this form: it compares whole maps (channels and positions), so two
    peers that fire on the same places with the same channels count as
    redundant even when their pooled channel statistics differ. It is in
    [0, 1]: 1 for identical (or proportional) branches, about 1/(C*H*W) for
    independent ones; it is invariant to the scale of each branch, so it
    cannot be lowered by shrinking a branch to nothing. Squaring penalises
    anti-correlation as much as correlation: anti-correlated peers cancel
    in the ensemble mean just as correlated ones duplicate each other;
    only orthogonal peers add independent information.

    Args:
        loss_weight: Weight of the loss (>= 0).
        eps: Added to each norm, so a constant (zero-variance) output gives
            correlation 0 instead of 0/0.
    """

    def __init__(self, loss_weight: float = 1.0, eps: float = 1e-8) -> None:
        super().__init__()
        check_weight('loss_weight', loss_weight, 'DecorrelationLoss')
        self.loss_weight = float(loss_weight)
        self.eps = float(eps)

    def forward(self, outputs: Union[Tensor, Sequence[Tensor]]) -> Tensor:
        """Computes the loss.

        Args:
            outputs: One (K, N, ...) tensor (K branches, N samples), or a
                sequence of them (e.g. one per FPN level, averaged).

        Returns:
            Tensor: The weighted loss, a scalar.

        Raises:
            ValueError: With fewer than 2 branches or mismatched K.
        """
        levels = [outputs] if isinstance(outputs, Tensor) else list(outputs)
        if not levels:
            raise ValueError('DecorrelationLoss: no branch outputs given.')
        num = levels[0].size(0) if levels[0].dim() > 0 else 0
        for out in levels:
            if out.dim() < 3 or out.size(0) != num:
                shapes = [tuple(o.shape) for o in levels]
                raise ValueError(
                    f'DecorrelationLoss: expected (K, N, ...) tensors with '
                    f'the same K, got shapes {shapes}.')
        if num < 2:
            raise ValueError(
                f'DecorrelationLoss: needs outputs of >= 2 branches to '
                f'correlate, got K={num}; use num_branches >= 2.')
        losses = [self.pairwise_sq_correlation(out) for out in levels]
        return self.loss_weight * torch.stack(losses).mean()

    def pairwise_sq_correlation(self, out: Tensor) -> Tensor:
        """Mean of ``rho_bc^2`` over samples and pairs b<c of one (K, N, ...)
        tensor."""
        k = out.size(0)
        x = out.flatten(2).float()  # (K, N, D)
        x = x - x.mean(-1, keepdim=True)
        x = x / (x.norm(dim=-1, keepdim=True) + self.eps)
        # (N, K, K) correlation matrix per sample
        corr = torch.einsum('knd,lnd->nkl', x, x)
        upper = torch.triu_indices(k, k, offset=1, device=out.device)
        return corr[:, upper[0], upper[1]].pow(2).mean()

