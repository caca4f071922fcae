"""mmdet's AnchorHead loss for N stacked copies of a batch, assigned once.

TWI (the teacher head on ERA's K+1 approximations) and Trunk-to-Branch (the
trunk and its K peer branches) both run one head over several feature sets
of the *same* images. Anchors and ground truth are the same for every copy,
so the anchor targets are assigned once for the B images and tiled N times;
per-copy weights are folded into the label and box weights, so the whole
loss is one ``loss_by_feat_single`` call per FPN level.

This is only the head's own loss where the head computes its loss exactly as
``AnchorHead`` does; :func:`supports_assign_once` is that allow-list.
"""
from typing import List, NamedTuple, Optional, Sequence, Tuple

import torch
from mmdet.models.dense_heads import AnchorHead, RPNHead
from mmdet.models.utils import images_to_levels, unpack_gt_instances
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from mmdet.structures.bbox import cat_boxes
from torch import Tensor

Levels = List[Tensor]

#: The methods a head must inherit unchanged from ``AnchorHead``: together
#: they are its whole loss path (``loss_by_feat`` -> ``get_targets`` ->
#: ``_get_targets_single``, then ``loss_by_feat_single`` per level).
ASSIGN_ONCE_METHODS = ('loss_by_feat', 'get_targets', '_get_targets_single',
                       'loss_by_feat_single')


class AnchorTargets(NamedTuple):
    """One image batch's anchor targets, per FPN level (mmdet's layout).

    ``anchors[l]`` is (B, A_l, 4); ``labels[l]`` and ``label_weights[l]``
    (B, A_l); ``bbox_targets[l]`` and ``bbox_weights[l]`` (B, A_l, 4);
    ``avg_factor`` the loss normaliser ``AnchorHead.get_targets`` returns.
    """
    anchors: Levels
    labels: Levels
    label_weights: Levels
    bbox_targets: Levels
    bbox_weights: Levels
    avg_factor: float

    @property
    def num_images(self) -> int:
        """B, the images the targets were assigned for."""
        return self.labels[0].size(0)

    def image(self, i: int) -> 'AnchorTargets':
        """Image ``i``'s targets, with the batch's ``avg_factor``: the
        losses of the B images' parts sum to the batch's loss."""
        return AnchorTargets(*([lvl[i:i + 1] for lvl in levels]
                               for levels in self[:5]), self.avg_factor)


def supports_assign_once(head) -> bool:
    """Whether ``head`` (an instance or a class) computes its loss exactly as
    ``AnchorHead`` does, so that assign-once equals its own loss.

    RPNHead qualifies too: its ``loss_by_feat`` only renames the keys.
    An allow-list, not ``isinstance``: heads such as FreeAnchor, PISA, DDOD,
    FSAF, YOLOF, GuidedAnchor and YOLACT subclass ``AnchorHead`` but replace
    the assignment or the loss; treating them as AnchorHead would silently
    train them with a plain RetinaNet loss.
    """
    cls = head if isinstance(head, type) else type(head)
    if not issubclass(cls, AnchorHead):
        return False
    # RPNHead's loss_by_feat is AnchorHead's with its keys renamed
    # (loss_rpn_cls, loss_rpn_bbox): the same loss
    loss_by_feat = getattr(cls, 'loss_by_feat')
    if loss_by_feat is not AnchorHead.loss_by_feat and \
            loss_by_feat is not RPNHead.loss_by_feat:
        return False
    return all(getattr(cls, name) is getattr(AnchorHead, name)
               for name in ASSIGN_ONCE_METHODS if name != 'loss_by_feat')


def assign_once_head_names() -> List[str]:
    """The registered mmdet heads that pass :func:`supports_assign_once`
    (for error messages)."""
    return sorted(name for name, cls in MODELS.module_dict.items()
                  if isinstance(cls, type) and supports_assign_once(cls))


def assign_targets(head: AnchorHead, featmap_sizes: Sequence[torch.Size],
                   batch_data_samples: SampleList,
                   device: torch.device) -> AnchorTargets:
    """Anchor targets of the B images, as ``AnchorHead.loss_by_feat``
    computes them.

    Args:
        head: A head for which :func:`supports_assign_once` holds.
        featmap_sizes: (H, W) of each FPN level.
        batch_data_samples: The B images' data samples (ground truth).
        device: Where the anchors live.

    Returns:
        AnchorTargets: Per-level targets of the B images.
    """
    gts, ignores, metas = unpack_gt_instances(batch_data_samples)
    anchors, valid_flags = head.get_anchors(featmap_sizes, metas, device)
    (labels, label_weights, bbox_targets, bbox_weights,
     avg_factor) = head.get_targets(anchors, valid_flags, gts, metas, ignores)
    num_level_anchors = [a.size(0) for a in anchors[0]]
    level_anchors = images_to_levels([cat_boxes(a) for a in anchors],
                                     num_level_anchors)
    return AnchorTargets(level_anchors, labels, label_weights, bbox_targets,
                         bbox_weights, avg_factor)


def stacked_anchor_loss(head: AnchorHead,
                        cls_scores: Levels,
                        bbox_preds: Levels,
                        targets: AnchorTargets,
                        copy_weights: Optional[Sequence[float]] = None,
                        average: bool = False) -> Tuple[Levels, Levels]:
    """The head's loss of N stacked copies of the batch, against one
    assignment.

    ``sum_n copy_weights[n] * loss(copy n)`` (each copy's loss normalised by
    ``avg_factor``, as mmdet's loss of that copy alone), or with
    ``average=True`` the mean over the copies (the normaliser times N).

    Args:
        head: A head for which :func:`supports_assign_once` holds.
        cls_scores: Per level, (N*B, A*C, H, W), copy-major (rows
            ``n*B:(n+1)*B`` are copy n).
        bbox_preds: Per level, (N*B, A*4, H, W), in the same order.
        targets: The B images' targets (:func:`assign_targets`).
        copy_weights: One weight per copy, folded into the label and box
            weights; None: all 1.
        average: Divide by N (the mean of the copies' losses).

    Returns:
        tuple: The class and the box losses, one scalar per level.
    """
    num_imgs = targets.num_images
    num_copies = cls_scores[0].size(0) // num_imgs
    if num_copies * num_imgs != cls_scores[0].size(0):
        raise ValueError(
            f'stacked_anchor_loss: {cls_scores[0].size(0)} score rows are '
            f'not a whole number of copies of the {num_imgs} images the '
            'targets were assigned for.')
    row_weights = None
    if copy_weights is not None:
        if len(copy_weights) != num_copies:
            raise ValueError(
                f'stacked_anchor_loss: {len(copy_weights)} copy weights for '
                f'{num_copies} copies of the batch.')
        # One weight per tiled image row, copy-major like the batch.
        row_weights = torch.tensor(
            copy_weights, device=cls_scores[0].device).repeat_interleave(
                num_imgs)
    avg_factor = targets.avg_factor * num_copies if average else \
        targets.avg_factor
    losses_cls, losses_bbox = [], []
    for lvl in range(len(cls_scores)):
        anchors, labels, label_w, box_t, box_w = (
            _tile(t[lvl], num_copies) for t in targets[:5])
        if row_weights is not None:
            label_w = label_w * row_weights[:, None]
            box_w = box_w * row_weights[:, None, None]
        loss_cls, loss_bbox = head.loss_by_feat_single(
            cls_scores[lvl], bbox_preds[lvl], anchors, labels, label_w,
            box_t, box_w, avg_factor=avg_factor)
        losses_cls.append(loss_cls)
        losses_bbox.append(loss_bbox)
    return losses_cls, losses_bbox


def _tile(x: Tensor, n: int) -> Tensor:
    # n copies along the image axis; no copy for one.
    return x if n == 1 else x.repeat(n, *([1] * (x.dim() - 1)))
