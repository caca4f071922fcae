"""A dense head split at tower layer i: CrossKD's cross-head forward.

CrossKD feeds the student head's features after its i-th tower layer into
the teacher head's layers i.. (the rest of its class and box towers, its
final class and box convs and, for GFL, its per-level scale). mmdet runs a
head's layers in one ``forward_single``; :func:`tower` and :func:`tail` are
that forward cut in two, for the head classes whose ``forward_single`` they
reproduce exactly (:data:`CROSS_HEADS`, matched by exact class: a subclass
may change the forward or the loss). :func:`check_cross_pair` refuses a
student/teacher pair that cannot be cross-fed, naming what differs.
"""
from typing import NamedTuple, Optional, Sequence, Tuple

import torch
from mmdet.models.dense_heads import GFLHead, RetinaHead
from mmdet.models.utils import unpack_gt_instances
from mmdet.structures import SampleList
from mmdet.utils import reduce_mean
from torch import Tensor, nn

from ..common.anchor_loss import assign_targets
from ..common.utils import same_settings


class HeadSpec(NamedTuple):
    """How a head class ends its ``forward_single``.

    Attributes:
        cls_conv: Its final class conv (attribute name).
        reg_conv: Its final box conv.
        distribution: GFL: the box output is ``reg_max + 1`` logits per side,
            scaled by the level's ``Scale``; otherwise anchor deltas.
    """
    cls_conv: str
    reg_conv: str
    distribution: bool


#: The heads CrossKD cross-feeds (exact classes), student and teacher alike.
CROSS_HEADS = {
    RetinaHead: HeadSpec('retina_cls', 'retina_reg', False),
    GFLHead: HeadSpec('gfl_cls', 'gfl_reg', True),
}
SUPPORTED = ('RetinaHead -> RetinaHead or GFLHead -> GFLHead (single-stage '
             'detectors; equal head widths, classes and priors)')


def head_spec(head: nn.Module) -> HeadSpec:
    """The :data:`CROSS_HEADS` entry of ``head`` (KeyError if none)."""
    return CROSS_HEADS[type(head)]


def check_cross_pair(student: nn.Module, teacher: nn.Module,
                     index: Optional[int], method: str
                     ) -> Tuple[nn.Module, nn.Module, int]:
    """Checks that the student's head can be cross-fed into the teacher's.

    Args:
        student: The student detector.
        teacher: The teacher detector.
        index: i, the student tower layers whose output the teacher's layers
            i.. read; None: ``stacked_convs - 1`` of the student's head (the
            paper's i = 3 for mmdet's 4-conv heads: only the last tower conv
            and the predictors are the teacher's).
        method: The method's name, for messages.

    Returns:
        tuple: The student's head, the teacher's head and i.

    Raises:
        ValueError: A detector without a supported dense head, heads of
            different classes, an i outside the towers, or widths, classes
            or priors that differ; naming the head and what works.
    """
    heads = []
    for role, det in (('student', student), ('teacher', teacher)):
        head = getattr(det, 'bbox_head', None)
        if head is None:
            raise ValueError(
                f'{method}: the {role} ({type(det).__name__}) has no dense '
                'head (bbox_head); CrossKD feeds the student head\'s tower '
                'features into the teacher\'s dense head. Pairs that work: '
                f'{SUPPORTED}; FitNet, PKD and ERA distil other detectors.')
        if type(head) not in CROSS_HEADS:
            raise ValueError(
                f'{method}: the {role}\'s head is {type(head).__name__}, '
                'which CrossKD cannot split at a tower layer. Pairs that '
                f'work: {SUPPORTED}; FitNet, PKD and ERA distil other heads.')
        heads.append(head)
    s_head, t_head = heads
    if type(s_head) is not type(t_head):
        raise ValueError(
            f'{method}: the student\'s head is {type(s_head).__name__}, the '
            f'teacher\'s {type(t_head).__name__}; the cross-head predictions '
            'mimic the teacher\'s own, so both heads must be of one class. '
            f'Pairs that work: {SUPPORTED}.')
    depth = min(s_head.stacked_convs, t_head.stacked_convs)
    if index is None:
        index = max(0, s_head.stacked_convs - 1)
    if isinstance(index, bool) or not isinstance(index, int) or \
            not 0 <= index <= depth:
        raise ValueError(
            f'{method}: cross_index must be an int in 0..{depth} (the '
            f'student\'s head has {s_head.stacked_convs} tower convs, the '
            f'teacher\'s {t_head.stacked_convs}), got {index!r}.')
    width = 'in_channels' if index == 0 else 'feat_channels'
    _require_equal(method, s_head, t_head, (width, ), (
        f'the teacher head\'s layer {index} reads the student\'s features '
        f'after its layer {index}'))
    _require_equal(method, s_head, t_head,
                   ('num_classes', 'cls_out_channels', 'num_base_priors',
                    'reg_max'),
                   'the cross-head predictions mimic the teacher\'s at each '
                   'prior')
    if not same_settings(s_head, t_head, ('prior_generator', 'bbox_coder')):
        raise ValueError(
            f'{method}: the student\'s and the teacher\'s '
            f'{type(s_head).__name__}s have different priors (anchor '
            'strides, sizes or ratios) or box coders; the KD losses compare '
            'predictions prior by prior on the student\'s assignment, so '
            f'they must be equal. Pairs that work: {SUPPORTED}.')
    return s_head, t_head, index


def _require_equal(method: str, s_head: nn.Module, t_head: nn.Module,
                   attrs: Sequence[str], why: str) -> None:
    for attr in attrs:
        s_val, t_val = getattr(s_head, attr, None), getattr(t_head, attr, None)
        if s_val != t_val:
            raise ValueError(
                f'{method}: {attr} is {s_val} in the student\'s '
                f'{type(s_head).__name__} but {t_val} in the teacher\'s; '
                f'{why}, so they must be equal (cross-feeding is impossible '
                f'otherwise). Pairs that work: {SUPPORTED}.')


def tower(head: nn.Module, x: Tensor, stop: int) -> Tuple[Tensor, Tensor]:
    """The class and box tower features after the head's first ``stop``
    layers (``(x, x)`` for ``stop=0``)."""
    cls_feat = reg_feat = x
    for conv in head.cls_convs[:stop]:
        cls_feat = conv(cls_feat)
    for conv in head.reg_convs[:stop]:
        reg_feat = conv(reg_feat)
    return cls_feat, reg_feat


def tail(head: nn.Module, cls_feat: Tensor, reg_feat: Tensor, level: int,
         start: int) -> Tuple[Tensor, Tensor]:
    """The head's layers ``start..`` on tower features of FPN ``level``:
    the rest of its towers, then its class and box outputs, as its
    ``forward_single`` computes them."""
    for conv in head.cls_convs[start:]:
        cls_feat = conv(cls_feat)
    for conv in head.reg_convs[start:]:
        reg_feat = conv(reg_feat)
    spec = head_spec(head)
    cls_score = getattr(head, spec.cls_conv)(cls_feat)
    bbox_pred = getattr(head, spec.reg_conv)(reg_feat)
    if spec.distribution:  # GFLHead.forward_single: scaled, float32
        bbox_pred = head.scales[level](bbox_pred).float()
    return cls_score, bbox_pred


class PriorTargets(NamedTuple):
    """The student's assignment, all levels concatenated.

    ``anchors`` (B, N, 4); ``strides`` (N,) each prior's level stride;
    ``label_weights`` (B, N) (0: ignored by the assignment); ``avg_factor``
    the head's own class-loss normaliser (its number of positives).
    """
    anchors: Tensor
    strides: Tensor
    label_weights: Tensor
    avg_factor: float


def prior_targets(head: nn.Module, featmap_sizes: Sequence[torch.Size],
                  batch_data_samples: SampleList,
                  device: torch.device) -> PriorTargets:
    """``head``'s own assignment of the batch (RetinaHead: AnchorHead's;
    GFLHead: its ATSS targets, normaliser averaged over processes as its
    loss does)."""
    if head_spec(head).distribution:
        gts, ignores, metas = unpack_gt_instances(batch_data_samples)
        anchors, valid = head.get_anchors(featmap_sizes, metas, device)
        (anchors, _, label_weights, _, _, avg_factor) = head.get_targets(
            anchors, valid, gts, metas, ignores)
        avg_factor = reduce_mean(torch.tensor(
            float(avg_factor), device=device)).item()
    else:
        targets = assign_targets(head, featmap_sizes, batch_data_samples,
                                 device)
        anchors, label_weights = targets.anchors, targets.label_weights
        avg_factor = float(targets.avg_factor)
    strides = torch.cat([
        anchors[lvl].new_full((anchors[lvl].size(1), ), float(stride[0]))
        for lvl, stride in enumerate(head.prior_generator.strides)
    ])
    return PriorTargets(
        torch.cat(anchors, dim=1), strides, torch.cat(label_weights, dim=1),
        max(avg_factor, 1.0))


def flatten_levels(maps: Sequence[Tensor], width: int) -> Tensor:
    """(B, A*width, H, W) per level -> (B, N, width), levels concatenated in
    mmdet's prior order (location-major, then anchor)."""
    return torch.cat([
        m.permute(0, 2, 3, 1).reshape(m.size(0), -1, width) for m in maps
    ], dim=1)


def decode_boxes(head: nn.Module, bbox_pred: Tensor,
                 targets: PriorTargets) -> Tensor:
    """Boxes (B*N, 4) from flat box outputs (B, N, K): anchor deltas
    decoded by the head's coder, or GFL's side distributions integrated and
    decoded around the anchor centres in stride units (as GFL's own box
    loss)."""
    anchors = targets.anchors.reshape(-1, 4)
    if not head_spec(head).distribution:
        return head.bbox_coder.decode(anchors, bbox_pred.reshape(-1, 4))
    strides = targets.strides.repeat(bbox_pred.size(0))[:, None]
    centers = head.anchor_center(anchors) / strides
    distances = head.integral(bbox_pred.reshape(-1, bbox_pred.size(-1)))
    return head.bbox_coder.decode(centers, distances)
