"""Which student feature map distils from which teacher map: by stride.

Every feature method pairs the two detectors' neck outputs the same way:
by the stride each map has, read from what the neck really returns (a dry
run on a small blank image), never from FPN-only attributes such as
``num_outs``. So FPN, PAFPN, CSPNeXtPAFPN, ChannelMapper and any registered
neck pair alike, and a student whose neck starts at another level than the
teacher's still pairs its common strides.
"""
from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from .detector_losses import detector_kind

#: Side of the blank image of the dry run: a multiple of every stride up to
#: 256 that detectors use, small enough to cost little on any backbone.
DRY_RUN_SIZE = 256
#: The side tried when a detector cannot run at :data:`DRY_RUN_SIZE` (SSD512
#: shrinks its last maps below its kernels there).
LARGE_DRY_RUN_SIZE = 512


@dataclass(frozen=True)
class NeckLayout:
    """What a detector's ``extract_feat`` returns, level by level.

    Attributes:
        strides: The stride of each returned map (finest first, as returned).
        channels: The channels of each returned map.
        neck: The neck's class name (for messages).
    """
    strides: Tuple[int, ...]
    channels: Tuple[int, ...]
    neck: str


def dry_run_shapes(module: nn.Module,
                   forward: Optional[Callable[[Tensor], Sequence[Tensor]]]
                   = None,
                   size: int = DRY_RUN_SIZE) -> List[Tuple[int, int, int]]:
    """(C, H, W) of each output of ``forward`` (default: ``module`` itself)
    on a blank ``size`` x ``size`` image.

    ``module`` runs in eval mode under ``no_grad`` (so no norm statistics
    change) and its training mode is restored.
    """
    was_training = module.training
    param = next(module.parameters(), None)
    device = param.device if param is not None else torch.device('cpu')
    module.eval()
    try:
        with torch.no_grad():
            outs = (forward or module)(
                torch.zeros(1, 3, size, size, device=device))
    except Exception as err:
        raise ValueError(
            f'could not run {type(module).__name__} on a blank {size}x{size} '
            'image to read the strides and widths of its feature maps '
            f'({type(err).__name__}: {err}). mmera pairs features by stride '
            'and supports detectors that run at that size (RetinaNet, FCOS, '
            'ATSS, GFL, RTMDet, ...).') from err
    finally:
        module.train(was_training)
    if isinstance(outs, Tensor):
        outs = [outs]
    return [tuple(int(d) for d in out.shape[1:]) for out in outs]


def neck_layout(detector: nn.Module, size: int = DRY_RUN_SIZE) -> NeckLayout:
    """Strides and channels of ``detector.extract_feat`` from a dry run
    (:func:`dry_run_shapes`); a detector that cannot run at ``size`` is run
    again at :data:`LARGE_DRY_RUN_SIZE`.

    Args:
        detector: An mmdet detector with ``extract_feat``.
        size: The side of the blank image (a multiple of the strides).

    Returns:
        NeckLayout: One stride and channel count per returned map.
    """
    try:
        shapes = dry_run_shapes(detector, detector.extract_feat, size)
    except ValueError as first:
        if size >= LARGE_DRY_RUN_SIZE:
            raise
        try:
            shapes = dry_run_shapes(detector, detector.extract_feat,
                                    LARGE_DRY_RUN_SIZE)
        except ValueError:
            raise first  # the same cause: name the usual size
        size = LARGE_DRY_RUN_SIZE
    neck = getattr(detector, 'neck', None)
    name = type(neck).__name__ if neck is not None else 'no neck (backbone)'
    heights = [height for _, height, _ in shapes]
    if any(size % h for h in heights):
        # Padding rounds sizes up: size / ceil(size / s) == s for s | size;
        # a map that does not divide the image has no stride to pair by.
        if size < LARGE_DRY_RUN_SIZE:
            return neck_layout(detector, LARGE_DRY_RUN_SIZE)
        raise ValueError(
            f'the neck ({name}) of {type(detector).__name__} returns maps '
            f'{heights} high on a {size}x{size} image: not all of them '
            'divide the image (unpadded layers, as in SSD300\'s last '
            'levels), so their strides are ambiguous and features cannot '
            'be paired by stride. Use a detector whose levels divide the '
            'image exactly (FPN-style necks, SSD512).')
    return NeckLayout(tuple(size // h for h in heights),
                      tuple(c for c, _, _ in shapes), name)


def head_strides(head: nn.Module) -> Optional[Tuple[int, ...]]:
    """The strides a dense head reads (its prior generator's), or None."""
    generator = getattr(head, 'prior_generator', None)
    strides = getattr(generator, 'strides', None)
    if strides is None:
        return None
    return tuple(int(s[0]) if isinstance(s, (tuple, list)) else int(s)
                 for s in strides)


@dataclass(frozen=True)
class FeaturePairing:
    """The student and teacher maps paired by stride.

    Attributes:
        strides: The paired strides, finest first (or in the order the
            teacher's head reads them, for methods that run it).
        student_index: For each paired stride, the index of the student's
            map in its ``extract_feat`` output.
        teacher_index: The same for the teacher.
        student: The student's whole layout.
        teacher: The teacher's whole layout.
    """
    strides: Tuple[int, ...]
    student_index: Tuple[int, ...]
    teacher_index: Tuple[int, ...]
    student: NeckLayout
    teacher: NeckLayout

    def select_student(self, feats: Sequence[Tensor]) -> List[Tensor]:
        """The student's maps at the paired strides."""
        return [feats[i] for i in self.student_index]

    def select_teacher(self, feats: Sequence[Tensor]) -> List[Tensor]:
        """The teacher's maps at the paired strides."""
        return [feats[i] for i in self.teacher_index]

    def level_channels(self) -> Tuple[Tuple[int, ...], Tuple[int, ...]]:
        """The width of each paired map: the student's, the teacher's (in
        the order of :attr:`strides`), for methods with per-level
        adapters or branches."""
        return (tuple(self.student.channels[i] for i in self.student_index),
                tuple(self.teacher.channels[i] for i in self.teacher_index))

    def channels(self, method: str) -> Tuple[int, int]:
        """The one channel count of the student's and of the teacher's
        paired maps.

        Raises:
            ValueError: Where a detector's paired maps differ in width (the
                method's shared modules need one width).
        """
        result = []
        for role, layout, widths in zip(('student', 'teacher'),
                                        (self.student, self.teacher),
                                        self.level_channels()):
            if len(set(widths)) != 1:
                raise ValueError(
                    f'{method}: the {role}\'s neck ({layout.neck}) returns '
                    f'maps of different widths {sorted(set(widths))} at '
                    f'strides {self.strides}; this method needs one width '
                    'per detector: give the neck one out_channels, or use '
                    'FitNet, PKD or ERA, which adapt each level to its '
                    'width.')
            result.append(widths[0])
        return result[0], result[1]


def pair_by_stride(student: NeckLayout, teacher: NeckLayout, method: str,
                   need_strides: Optional[Sequence[int]] = None,
                   all_levels: bool = False) -> FeaturePairing:
    """Pairs the student's and the teacher's maps of equal stride.

    Args:
        student: The student's layout (:func:`neck_layout`).
        teacher: The teacher's layout.
        method: The method's name, for messages.
        need_strides: Strides the pairing must contain (e.g. every level
            the teacher's head reads, for a method that runs that head on
            student features); None: any common strides.
        all_levels: Require both detectors to return the same strides (for
            methods that combine every level of both).

    Returns:
        FeaturePairing: The common strides, finest first; with
        ``need_strides``, those strides in the order given.

    Raises:
        ValueError: No common stride, a needed stride missing, or (with
            ``all_levels``) different stride sets; naming both layouts.
    """
    def describe():
        return (f'the student\'s neck ({student.neck}) returns strides '
                f'{list(student.strides)}, the teacher\'s ({teacher.neck}) '
                f'{list(teacher.strides)}')

    for role, layout in (('student', student), ('teacher', teacher)):
        if len(set(layout.strides)) != len(layout.strides):
            raise ValueError(
                f'{method}: the {role}\'s neck ({layout.neck}) returns '
                f'several maps of one stride {list(layout.strides)}; pairing '
                'by stride needs one map per stride.')
    common = sorted(set(student.strides) & set(teacher.strides))
    if not common:
        raise ValueError(f'{method}: no stride in common: {describe()}. '
                         'Give the necks common output strides.')
    if all_levels and set(student.strides) != set(teacher.strides):
        raise ValueError(
            f'{method} combines every level of both necks, so their strides '
            f'must be the same: {describe()}. Align the necks\' levels '
            '(e.g. start_level / num_outs), or use FitNet, PKD or ERA, which '
            'pair the common strides.')
    if need_strides is not None:
        unread = sorted(set(need_strides) - set(teacher.strides))
        if unread:
            raise ValueError(
                f'{method}: the teacher\'s head reads strides '
                f'{sorted(need_strides)}, but {describe()}: its own neck '
                f'lacks {unread}. Check the teacher\'s config.')
        missing = sorted(set(need_strides) - set(student.strides))
        if missing:
            raise ValueError(
                f'{method}: the teacher\'s head reads strides '
                f'{sorted(need_strides)}, but {describe()}; the student '
                f'lacks {missing}. Give the student\'s neck these levels, '
                'or use a feature-only method (FitNet, PKD).')
        # in the order the head reads them (YOLOv3's head reads 32 -> 8)
        common = list(dict.fromkeys(int(x) for x in need_strides))
    return FeaturePairing(
        tuple(common), tuple(student.strides.index(s) for s in common),
        tuple(teacher.strides.index(s) for s in common), student, teacher)


def pair_detectors(student: nn.Module, teacher: Optional[nn.Module],
                   method: str, same_classes: bool = False,
                   student_dense_head: bool = False,
                   teacher_head: Optional[nn.Module] = None,
                   all_levels: bool = False,
                   neck_types: Optional[Sequence[type]] = None
                   ) -> FeaturePairing:
    """Checks that two detectors fit a method and pairs their maps by stride.

    Args:
        student: The student detector: single-stage or two-stage (its own
            losses are computed by
            :func:`~mmera.models.common.detector_losses.detector_losses`).
        teacher: The teacher detector, or None (teacher-free: the student is
            paired with itself, which checks its own layout).
        method: The method's name, for messages.
        same_classes: Require equal numbers of classes (methods that use the
            teacher's head or logits).
        student_dense_head: The method's mechanism uses the student's dense
            ``bbox_head`` (single-stage students only).
        teacher_head: A dense head of the teacher (its ``bbox_head``, or a
            two-stage teacher's RPN head) that the method runs on the
            student's features: pair exactly the strides it reads, in its
            order.
        all_levels: Both necks must return the same strides.
        neck_types: The neck classes the method's mechanism works on (e.g.
            ``(FPN, )``): the student's neck must be one (the teacher's
            features are only targets, so its neck may be any); None: any
            neck.

    Returns:
        FeaturePairing: The paired strides.

    Raises:
        ValueError: Naming the detector, head or neck and what to change.
    """
    if neck_types is not None and not isinstance(
            getattr(student, 'neck', None), tuple(neck_types)):
        raise ValueError(
            f'{method}: the student\'s neck is '
            f'{type(getattr(student, "neck", None)).__name__}, but this '
            f'method works on {"/".join(t.__name__ for t in neck_types)} '
            'necks only (its mechanism splits or rebuilds that neck). '
            'FitNet, PKD and ERA work with any neck.')
    kind = detector_kind(student)
    if kind == 'other':
        raise ValueError(
            f'{method}: the student ({type(student).__name__}) is neither a '
            'single-stage detector (a dense bbox_head), a two-stage one '
            '(RPN + RoI head), a DETR-family one nor a single-stage instance '
            'segmentor; those are what mmera\'s distillers train.')
    check_single_branch(student, method)
    if student_dense_head and kind != 'single_stage':
        what = ('is an instance segmentor, whose mask head this method\'s '
                'mechanism does not train' if kind == 'instance_seg' else
                'has no dense bbox_head')
        raise ValueError(
            f'{method}: the student ({type(student).__name__}) {what}, and '
            'this method\'s mechanism runs the student\'s dense head alone; '
            'use a single-stage detector student (RetinaNet, FCOS, ATSS, '
            'GFL, RTMDet, ...), or FitNet, PKD or ERA, which distil '
            'two-stage, DETR-family and instance segmentation students too.')
    layout = neck_layout(student)
    if teacher is None:
        return pair_by_stride(layout, layout, method)
    if same_classes:
        s_cls, t_cls = num_classes(student), num_classes(teacher)
        if s_cls != t_cls:
            raise ValueError(
                f'{method}: the student predicts {s_cls} classes, the '
                f'teacher {t_cls}. Both must be trained on the same classes: '
                'fix num_classes in one of the configs.')
    t_layout = neck_layout(teacher)
    need = None
    if teacher_head is not None:
        need = head_strides(teacher_head) or t_layout.strides
    return pair_by_stride(layout, t_layout, method, need_strides=need,
                          all_levels=all_levels)


def check_single_branch(student: nn.Module, method: str) -> None:
    """Raises the fix for a student whose features hold several copies of
    the batch in training (TridentNet: one per backbone branch), which
    cannot be paired with the teacher's image by image."""
    branches = getattr(student, 'num_branch', 1)
    if branches > 1:
        raise ValueError(
            f'{method}: the student ({type(student).__name__}) runs each '
            f'training image through its {branches} backbone branches, so '
            f'its features hold {branches} copies of the batch and cannot '
            'be paired with the teacher\'s image by image. Distil a '
            'TridentNet teacher into a single-branch student (Faster R-CNN, '
            'RetinaNet, ...) instead.')


def num_classes(detector: nn.Module) -> Optional[int]:
    """The classes a detector predicts (its dense head's, or its RoI box
    head's), or None."""
    head = getattr(detector, 'bbox_head', None)
    if head is None:
        roi_head = getattr(detector, 'roi_head', None)
        head = getattr(roi_head, 'bbox_head', None)
        if isinstance(head, (list, nn.ModuleList)):  # Cascade: any stage
            head = head[0]
    return getattr(head, 'num_classes', None)
