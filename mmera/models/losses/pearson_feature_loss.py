"""PKD's feature loss: 1 - Pearson correlation, via standardised features."""
from mmdet.registry import MODELS
from torch import Tensor, nn
from torch.nn import functional as F

from ..common.utils import check_weight


def standardize_channels(feat: Tensor, eps: float = 1e-6) -> Tensor:
    """Gives every channel zero mean and unit std over (N, H, W).

    The statistics pool the whole batch, as in MMRazor's ``PKDLoss.norm``
    (not per image). The std is the population std (divides by the count
    ``M = N*H*W``); MMRazor uses the Bessel-corrected std, which scales the
    loss by ``(M - 1) / M`` (a difference below 0.1% for M >= 1000).

    Args:
        feat: Features of shape (N, C, H, W).
        eps: Added to the std, so a constant channel becomes all zeros
            instead of NaN.

    Returns:
        Tensor: Shape (C, N*H*W), one standardised row per channel.
    """
    channels = feat.shape[1]
    flat = feat.transpose(0, 1).reshape(channels, -1)
    mean = flat.mean(dim=1, keepdim=True)
    std = flat.std(dim=1, unbiased=False, keepdim=True)
    return (flat - mean) / (std + eps)


@MODELS.register_module()
class PearsonFeatureLoss(nn.Module):
    """Feature imitation by Pearson correlation (PKD, Cao et al. 2022).

    `PKD: General Distillation Framework for Object Detectors via Pearson
    Correlation Coefficient <https://arxiv.org/abs/2207.02039>`_.

    Both feature maps are standardised per channel (zero mean, unit std
    over batch and space, :func:`standardize_channels`), then compared by
    MSE / 2. For standardised vectors ``z_s, z_t`` of length ``M`` (with
    ``sum z^2 = M``)::

        sum (z_s - z_t)^2 = 2M - 2 sum z_s z_t = 2M (1 - r)

    so ``MSE / 2`` over all elements is ``mean_c (1 - r_c)``: 0 for
    identical (or positively affine-related) features, 1 for uncorrelated,
    2 for anti-correlated ones. The loss therefore ignores each channel's
    scale and offset, which is PKD's point: the teacher's feature magnitudes
    do not over-constrain the student, and large-magnitude channels or
    levels do not dominate the gradient.

    Unlike MMRazor's ``PKDLoss`` it never resizes: features of different
    shapes raise an error (mismatched FPN strides are a config mistake).

    Args:
        loss_weight: Multiplies the loss (MMRazor's RetinaNet/FCOS configs
            use 6 per FPN level).
        eps: Added to each channel's std.
    """

    def __init__(self, loss_weight: float = 1.0, eps: float = 1e-6) -> None:
        super().__init__()
        check_weight('loss_weight', loss_weight, 'PearsonFeatureLoss')
        self.loss_weight = loss_weight
        self.eps = eps

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        """Returns ``loss_weight * mean_c (1 - r_c)``.

        Args:
            pred: Student features, (N, C, H, W).
            target: Teacher features of the same shape.

        Raises:
            ValueError: If the inputs are not 4-D or differ in shape.
        """
        if pred.dim() != 4 or pred.shape != target.shape:
            raise ValueError(
                'PearsonFeatureLoss: expects two (N, C, H, W) feature maps of '
                f'the same shape, got {tuple(pred.shape)} and '
                f'{tuple(target.shape)}. Map the student\'s channels to the '
                'teacher\'s with an adapter and use the same FPN strides.')
        norm_pred = standardize_channels(pred, self.eps)
        norm_target = standardize_channels(target, self.eps)
        return self.loss_weight * F.mse_loss(norm_pred, norm_target) / 2
