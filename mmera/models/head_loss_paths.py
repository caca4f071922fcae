"""How a frozen dense head scores N stacked copies of one batch.

TWI runs the teacher's head on ERA's K+1 approximations of the *same*
images. What the K+1 losses can share depends on the head; this module is
the one place that decides it (:func:`loss_path`), by allow-lists of the
exact mmdet loss code a head runs, never by ``isinstance``:

``'stacked'``
    The head's loss is exactly ``AnchorHead``'s (RetinaNet and the few heads
    that pass :func:`~mmera.models.anchor_loss.supports_assign_once`):
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
from typing import Iterator, List, Optional, Sequence, Tuple, Type

from mmdet.models.dense_heads import ATSSHead, FCOSHead, GFLHead
from .anchor_loss import supports_assign_once

LOSS_PATHS = ('stacked', 'reused_targets', 'per_approximation')

#: Heads whose targets depend only on priors and ground truth, with the
#: methods that make up their loss; a head takes the ``reused_targets``
#: path only if it inherits all of them unchanged from one of these.
REUSED_TARGET_FAMILIES: Tuple[Tuple[type, Tuple[str, ...]], ...] = (
    (FCOSHead, ('loss_by_feat', 'get_targets', '_get_targets_single',
                'centerness_target')),
    (ATSSHead, ('loss_by_feat', 'get_targets', '_get_targets_single',
                'loss_by_feat_single', 'centerness_target', 'get_anchors')),
    (GFLHead, ('loss_by_feat', 'get_targets', '_get_targets_single',
               'loss_by_feat_single', 'get_anchors')),
)


def reused_targets_family(head) -> Optional[type]:
    """The family of :data:`REUSED_TARGET_FAMILIES` whose loss code ``head``
    (an instance or a class) runs unchanged, or None."""
    cls = head if isinstance(head, type) else type(head)
    if issubclass(cls, ReusedTargets):
        cls = cls.__mro__[2]  # the head class the reuse subclass wraps
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


class ReusedTargets:
    """Mixin: inside :meth:`reuse_targets`, ``get_targets`` runs once and
    its result serves every later call.

    Used only on a head of :data:`REUSED_TARGET_FAMILIES`, whose
    ``get_targets`` takes priors and ground truth only: the K+1 copies of a
    batch then get the very targets one call would give each of them.
    """

    _cached_targets: Optional[list] = None

    def get_targets(self, *args, **kwargs):
        cache = self._cached_targets
        if cache is None:
            return super().get_targets(*args, **kwargs)
        if not cache:
            cache.append(super().get_targets(*args, **kwargs))
        return cache[0]

    @contextmanager
    def reuse_targets(self) -> Iterator[None]:
        """Computes the targets at the first ``get_targets`` call only."""
        self._cached_targets = []
        try:
            yield
        finally:
            self._cached_targets = None


_REUSE_CLASSES = {}


def with_reused_targets(head) -> None:
    """Makes ``head`` (our own frozen copy) a :class:`ReusedTargets`
    subclass of its class, in place.

    A subclass made for the copy, not a patch of mmdet: the teacher's head
    and every other instance of the class are untouched.
    """
    cls = type(head)
    if issubclass(cls, ReusedTargets):
        return
    if cls not in _REUSE_CLASSES:
        _REUSE_CLASSES[cls] = type(f'{cls.__name__}WithReusedTargets',
                                   (ReusedTargets, cls), {})
    head.__class__ = _REUSE_CLASSES[cls]


def chunk_outputs(outs: Sequence[Sequence], k: int,
                  n: int) -> Tuple[list, ...]:
    """Copy ``k`` of ``n`` of each per-level output list (copy-major)."""
    return tuple([x.chunk(n, dim=0)[k] for x in out] for out in outs)


def head_class_name(head) -> str:
    """The head's mmdet class name (without our reuse subclass)."""
    cls: Type = type(head)
    if issubclass(cls, ReusedTargets):
        cls = cls.__mro__[2]
    return cls.__name__
