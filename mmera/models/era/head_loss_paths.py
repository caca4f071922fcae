"""How a frozen dense head scores N stacked copies of one batch.

TWI runs the teacher's head on ERA's K+1 approximations of the *same*
images. What the K+1 losses can share depends on the head; this module is
the one place that decides it (:func:`loss_path`), by allow-lists of the
exact mmdet loss code a head runs, never by ``isinstance``:

``'stacked'``
    The head's loss is exactly ``AnchorHead``'s (RetinaNet and the few heads
    that pass :func:`~mmera.models.common.anchor_loss.supports_assign_once`):
    anchors assigned once, every copy folded into ONE loss call per level.
``'reused_targets'``
    Assignment depends only on the priors and the ground truth (FCOS
    points, ATSS, GFL's ATSS assigner) and the head runs its family's own
    loss code: targets are computed once per batch and reused; each copy
    gets its own ``loss_by_feat`` call with its own normaliser (FCOS, ATSS
    and GFL normalise by sums over the batch; GFL's quality targets are the
    IoU of each copy's own decoded boxes).
``'per_approximation'``
    Everything else (RTMDet's DynamicSoftLabelAssigner, PAA, AutoAssign,
    DDOD, TOOD, VFNet, ... whose assignment needs the predictions, or whose
    loss code we have not checked): the head's own ``loss_by_feat`` per
    copy, assigning N times. Always correct; it costs N assignments.
"""
from contextlib import contextmanager
from typing import Iterator, List, Optional, Sequence, Tuple

from mmdet.models.dense_heads import ATSSHead, FCOSHead, GFLHead
from mmdet.models.task_modules.samplers import PseudoSampler

from ..common.anchor_loss import supports_assign_once

LOSS_PATHS = ('stacked', 'reused_targets', 'per_approximation')

#: Heads whose targets depend only on priors and ground truth, with the
#: methods that make up their loss; a head takes the ``reused_targets``
#: path only if it inherits all of them unchanged from one of these.
REUSED_TARGET_FAMILIES: Tuple[Tuple[type, Tuple[str, ...]], ...] = (
    (FCOSHead, ('loss_by_feat', 'get_targets', '_get_targets_single',
                'centerness_target')),
    (ATSSHead, ('loss_by_feat', 'get_targets', '_get_targets_single',
                'loss_by_feat_single', 'centerness_target', 'get_anchors',
                'get_num_level_anchors_inside')),
    (GFLHead, ('loss_by_feat', 'get_targets', '_get_targets_single',
               'loss_by_feat_single', 'get_anchors', 'anchor_center',
               'get_num_level_anchors_inside')),
)


def reused_targets_family(head) -> Optional[type]:
    """The family of :data:`REUSED_TARGET_FAMILIES` whose loss code ``head``
    (an instance or a class) runs unchanged, or None.

    An instance must also sample deterministically (mmdet's PseudoSampler,
    the default of these heads): a random sampler draws anew at every
    ``get_targets``, which one reused draw would not.
    """
    sampler = getattr(head, 'sampler', None)
    if sampler is not None and not isinstance(sampler, PseudoSampler):
        return None
    cls = head if isinstance(head, type) else type(head)
    for base, methods in REUSED_TARGET_FAMILIES:
        if issubclass(cls, base) and all(
                getattr(cls, m) is getattr(base, m) for m in methods):
            return base
    return None


def loss_path(head) -> str:
    """The path of :data:`LOSS_PATHS` that gives ``head``'s own loss."""
    if supports_assign_once(head):
        return 'stacked'
    if reused_targets_family(head) is not None:
        return 'reused_targets'
    return 'per_approximation'


def loss_path_heads(path: str) -> List[str]:
    """The registered mmdet heads that take ``path`` (for docs and tests)."""
    from mmdet.registry import MODELS
    return sorted(name for name, cls in MODELS.module_dict.items()
                  if isinstance(cls, type) and name.endswith('Head')
                  and loss_path(cls) == path)


@contextmanager
def reused_targets(head, memo: Optional[list] = None) -> Iterator[None]:
    """Inside the block, ``head.get_targets`` runs once and its result
    serves every later call.

    Only for our own frozen copy of a head of :data:`REUSED_TARGET_FAMILIES`
    (whose ``get_targets`` takes priors and ground truth only), so the K+1
    copies of one batch get the very targets one call would give each. The
    memo is an attribute of that instance for the block only: the head's
    class, the teacher's head and every other instance are untouched.

    Args:
        head: The frozen head.
        memo: Where the result is kept: pass the same list to several blocks
            (e.g. a checkpointed loss and its recomputation) and
            ``get_targets`` runs once for all of them; None: this block's own.

    Raises:
        ValueError: For a head outside the families.
    """
    if reused_targets_family(head) is None:
        raise ValueError(f'{type(head).__name__} computes targets from its '
                         'predictions or runs its own loss code: its targets '
                         'cannot be reused across approximations.')
    compute = head.get_targets
    cache: list = [] if memo is None else memo

    def get_targets(*args, **kwargs):
        if not cache:
            cache.append(compute(*args, **kwargs))
        return cache[0]

    head.get_targets = get_targets
    try:
        yield
    finally:
        del head.get_targets


def chunk_outputs(outs: Sequence[Sequence], k: int,
                  n: int) -> Tuple[list, ...]:
    """Copy ``k`` of ``n`` of each per-level output list (copy-major); a
    level's output may itself be a tuple of tensors (SABL's bucketed box
    prediction: scores and offsets)."""
    def part(x):
        if isinstance(x, (tuple, list)):
            return type(x)(part(y) for y in x)
        return x.chunk(n, dim=0)[k]
    return tuple([part(x) for x in out] for out in outs)
