"""A detector's own losses from features already extracted; feature methods
on two-stage students and teachers."""
import copy

import pytest
import torch
from mmdet.registry import MODELS
from tiny_detectors import make_samples, tiny_detector

from mmera.models.common.detector_losses import detector_kind, detector_losses


def _batch(size=128):
    torch.manual_seed(0)
    return torch.randn(2, 3, size, size), make_samples(2, size)


def _same(a, b):
    if isinstance(a, (list, tuple)):
        return all(_same(x, y) for x, y in zip(a, b))
    return torch.equal(a, b)


@pytest.mark.parametrize('family', ['faster_rcnn', 'cascade_rcnn', 'gfl',
                                    'detr'])
def test_losses_from_features_equal_the_detectors_own(family):
    det = MODELS.build(tiny_detector(family))
    det.init_weights()
    det.train()
    inputs, samples = _batch()
    torch.manual_seed(1)  # the RoI head samples at random
    own = det.loss(inputs, copy.deepcopy(samples))
    torch.manual_seed(1)
    ours = detector_losses(det, det.extract_feat(inputs),
                           copy.deepcopy(samples))
    assert own.keys() == ours.keys()
    assert all(_same(own[k], ours[k]) for k in own)
    assert detector_kind(det) == dict(faster_rcnn='two_stage',
                                      cascade_rcnn='two_stage',
                                      detr='query').get(family,
                                                        'single_stage')


def test_other_detectors_are_named():
    with pytest.raises(ValueError, match='Linear is neither a single-stage '
                       r'.*DETR-family'):
        detector_losses(torch.nn.Linear(1, 1), [], [])


def _build(method, student, teacher, **kwargs):
    model = MODELS.build(dict(type=method, student=copy.deepcopy(student),
                              teacher_config=copy.deepcopy(teacher),
                              **kwargs))
    model.student.init_weights()
    model.teacher_loaded = True  # random teacher weights suffice here
    return model.train()


def _own_loss_keys(family):
    """The loss keys of a tiny ``family`` detector's own ``loss``."""
    rpn = {'loss_rpn_cls', 'loss_rpn_bbox'}
    if family == 'cascade_rcnn':  # mmdet names each stage's losses s<i>.
        return rpn | {f's{i}.{k}' for i in range(3)
                      for k in ('loss_cls', 'loss_bbox', 'acc')}
    return rpn | {'loss_cls', 'loss_bbox', 'acc'}


@pytest.mark.parametrize('method, family', [
    ('FitNetDistiller', 'faster_rcnn'), ('PKDDistiller', 'faster_rcnn'),
    ('RKDDistiller', 'faster_rcnn'), ('PKDDistiller', 'cascade_rcnn')])
def test_feature_methods_train_a_two_stage_student(method, family):
    """Faster R-CNN teacher; a Faster or Cascade R-CNN student."""
    student = tiny_detector(family)
    teacher = tiny_detector('faster_rcnn', width=32, channels=64)
    model = _build(method, student, teacher)
    assert model.pairing.strides == (4, 8, 16, 32, 64)
    losses = model.loss(*_batch())
    prefixes = ('fitnet.', 'pkd.', 'rkd.')
    # the student's whole own loss
    assert {k for k in losses if not k.startswith(prefixes)} == \
        _own_loss_keys(family)
    loss, _ = model.parse_losses(losses)
    loss.backward()
    assert torch.isfinite(loss)
    assert any(k.startswith(prefixes) for k in losses)


def test_two_stage_teacher_for_a_one_stage_student():
    """A Faster R-CNN teacher (strides 4-64) of a RetinaNet student (8-128):
    FitNet pairs the four common strides; ERA distils with MBRNet and the
    mimic loss, and refuses TWI (the teacher has no dense head)."""
    student = tiny_detector('retinanet')
    teacher = tiny_detector('faster_rcnn', width=32, channels=64)
    fitnet = _build('FitNetDistiller', student, teacher)
    assert fitnet.pairing.strides == (8, 16, 32, 64)
    assert torch.isfinite(fitnet.loss(*_batch())['fitnet.loss_feat'])
    with pytest.raises(ValueError, match=r'TWI cannot run here: a two-stage '
                       r"teacher's RoI head scores RoIs sampled from the "
                       r"student's proposals, and the student \(RetinaNet\) "
                       r'has no RPN. Set twi_mode="none"'):
        _build('ERADistiller', student, teacher)
    era = _build('ERADistiller', student, teacher, twi_mode='none')
    assert era.twi is None
    losses = era.loss(*_batch())
    assert 'era.loss_mimic' in losses and 'era.loss_twi' not in losses
    with pytest.raises(ValueError, match='inference mode .T. runs the '
                       "teacher's"):
        era.set_inference_mode('T')


def test_era_two_stage_student_of_a_one_stage_teacher():
    """TWI runs the RetinaNet teacher's head on the Faster R-CNN student's
    approximations; T-mode decodes with it, ST is refused."""
    student = tiny_detector('faster_rcnn')
    teacher = tiny_detector('retinanet', width=32, channels=64)
    teacher.neck.update(start_level=0, num_outs=5)  # strides 4-64 ...
    teacher.bbox_head.anchor_generator.strides = [4, 8, 16, 32, 64]
    model = _build('ERADistiller', student, teacher)
    model.twi.load_from(model.teacher.bbox_head)
    assert model.pairing.strides == (4, 8, 16, 32, 64)
    losses = model.loss(*_batch())
    assert torch.isfinite(losses['era.loss_twi'])
    assert 'loss_rpn_cls' in losses
    with pytest.raises(ValueError, match='"ST" blends'):
        model.set_inference_mode('ST', 0.5)
    model.set_inference_mode('T')
    with torch.no_grad():
        results = model.eval().predict(*_batch())
    assert len(results[0].pred_instances) > 0


@pytest.mark.parametrize('method', ['ResKDDistiller', 'TrunkBranchDistiller'])
def test_dense_head_methods_refuse_a_two_stage_student(method):
    cfg = dict(type=method, student=tiny_detector('faster_rcnn'))
    if method == 'ResKDDistiller':
        cfg['teacher_config'] = tiny_detector('faster_rcnn')
    with pytest.raises(ValueError, match=r'student \(FasterRCNN\) has no '
                       'dense bbox_head.*FitNet, PKD or ERA'):
        MODELS.build(cfg)


def _two_stage_era(student='faster_rcnn', teacher='faster_rcnn', **kwargs):
    """ERA of two tiny two-stage families (the teacher wider), TWI synced
    and MBRNet's branches off zero; every approximation scored in float32
    unless stated (what the exact checks compare)."""
    kwargs = {'twi_mode': 'all', 'twi_precision': 'fp32', **kwargs}
    model = _build('ERADistiller', tiny_detector(student),
                   tiny_detector(teacher, width=32, channels=64), **kwargs)
    model.mbrnet.init_weights()
    model.twi.load_from(model.teacher)
    torch.manual_seed(1)
    for p in model.mbrnet.branches.parameters():  # off zero: M_k differ
        p.data.normal_(0, 0.02)
    return model


def test_two_stage_twi_equals_the_teacher_heads_own_losses():
    """RPN: its own loss per approximation; RoI: ONE set of sampled RoIs
    shared by every approximation, each scored by the box head's own loss
    (the same SamplingResults reused, not re-drawn)."""
    from mmdet.structures.bbox import bbox2roi

    from mmera.models.common.anchor_loss import (
        assign_targets,
        stacked_anchor_loss,
    )
    from mmera.models.era.mbrnet import MBRNet
    from mmera.models.era.teacher_head_reuse import sum_losses
    model = _two_stage_era()
    twi = model.twi
    assert twi.head_name == 'RPNHead + Shared2FCBBoxHead'
    inputs, samples = _batch()
    feats = list(model.student.extract_feat(inputs))
    _, proposals = detector_losses(model.student, feats,
                                   copy.deepcopy(samples),
                                   with_proposals=True)
    base, preds = model.mbrnet(model.pairing.select_student(feats))
    approx = MBRNet.approximations(base, preds)
    weights = [1.0, 0.5, 0.25, 0.125, 0.0625]
    assert twi.rpn.loss_path == 'stacked'  # one RPN assignment + sampling
    sampling = twi.sample(proposals, samples)
    box = twi.box_loss(approx, weights, sampling)
    torch.manual_seed(3)
    rpn = twi.rpn_loss(approx, weights, samples)
    # the reference: each approximation alone through the same frozen heads,
    # the RoI head on the same SamplingResults, the RPN on the same targets
    rpn_samples = copy.deepcopy(samples)
    for s in rpn_samples:
        s.gt_instances.labels = torch.zeros_like(s.gt_instances.labels)
    rois = bbox2roi([r.priors for r in sampling])
    targets = twi.bbox_head.get_targets(sampling, twi.rcnn_train_cfg)
    torch.manual_seed(3)  # the RPN's RandomSampler: the same single draw
    rpn_targets = assign_targets(twi.rpn.head, [x.shape[-2:] for x in
                                                approx[0]], rpn_samples,
                                 inputs.device)
    ref_box, ref_rpn = 0., 0.
    for w, a in zip(weights, approx):
        feats_k = twi.roi_extractor(a[:twi.roi_extractor.num_inputs], rois)
        ref_box = ref_box + w * sum_losses(
            twi.bbox_head.loss(*twi.bbox_head(feats_k), rois, *targets))
        cls, reg = stacked_anchor_loss(twi.rpn.head, *twi.rpn.head(a),
                                       rpn_targets)
        ref_rpn = ref_rpn + w * (sum(cls) + sum(reg))
    torch.testing.assert_close(box, ref_box, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(rpn, ref_rpn, rtol=1e-5, atol=1e-6)
    for got, ref in ((box, ref_box), (rpn, ref_rpn)):
        # (the RoI head reads strides 4-32 only: no gradient at 64)
        grads = torch.autograd.grad(got, base, retain_graph=True,
                                    allow_unused=True)
        ref_grads = torch.autograd.grad(ref, base, retain_graph=True,
                                        allow_unused=True)
        for g, r in zip(grads, ref_grads):
            assert (g is None) == (r is None)
            if g is not None:
                torch.testing.assert_close(g, r, rtol=1e-4, atol=1e-7)
    # the student's proposals were not renamed by the sampling
    assert all('bboxes' in p and 'priors' not in p for p in proposals)


def test_two_stage_era_trains_and_predicts_in_every_mode():
    model = _two_stage_era()
    losses = model.loss(*_batch())
    assert torch.isfinite(losses['era.loss_twi'])
    assert {'loss_rpn_cls', 'loss_cls', 'era.loss_mimic'} <= set(losses)
    loss, _ = model.parse_losses(losses)
    loss.backward()
    assert all(p.grad is None for p in model.twi.parameters())
    assert model.mbrnet.branches[-1][0].conv.weight.grad.abs().sum() > 0
    model.eval()
    inputs, samples = _batch()
    with torch.no_grad():
        s_mode = model.predict(inputs, copy.deepcopy(samples))
        for mode in ('T', 'ST'):
            model.set_inference_mode(mode, 0.5)
            out = model.predict(inputs, copy.deepcopy(samples))
            assert len(out[0].pred_instances) > 0
            assert torch.isfinite(out[0].pred_instances.bboxes).all()
        model.set_inference_mode('ST', 0.0)
        blend_0 = model.predict(inputs, copy.deepcopy(samples))
    for s, b in zip(s_mode, blend_0):
        for key in ('bboxes', 'scores', 'labels'):
            assert torch.equal(s.pred_instances[key], b.pred_instances[key])


def test_cascade_twi_is_the_teachers_first_stage():
    """A Cascade R-CNN teacher of a Cascade R-CNN student: TWI scores M_k
    with frozen copies of the teacher's RPN and FIRST stage (extractor, box
    head, assigner and sampler); the student keeps its 3 stages' losses."""
    model = _two_stage_era('cascade_rcnn', 'cascade_rcnn')
    twi, t_roi = model.twi, model.teacher.roi_head
    assert twi.head_name == ('RPNHead + Shared2FCBBoxHead (the first of the '
                             '3 Cascade stages)')
    assert twi.bbox_head is twi.cascade.bbox_head[0]  # one copy of stage 0
    assert twi.rcnn_train_cfg == t_roi.train_cfg[0]
    assert twi.bbox_head.bbox_coder.stds == t_roi.bbox_head[0].bbox_coder.stds
    for stage, (ours, theirs) in enumerate(zip(twi.cascade.bbox_head,
                                               t_roi.bbox_head)):
        theirs = theirs.state_dict()
        for key, value in ours.state_dict().items():  # equal, not shared
            assert torch.equal(value, theirs[key]), (stage, key)
            assert value.data_ptr() != theirs[key].data_ptr()
    assert not torch.equal(t_roi.bbox_head[0].fc_cls.weight,
                           t_roi.bbox_head[1].fc_cls.weight)
    assert not any(p.requires_grad for p in twi.parameters())
    losses = model.loss(*_batch())
    assert torch.isfinite(losses['era.loss_twi'])
    assert _own_loss_keys('cascade_rcnn') <= set(losses)
    loss, _ = model.parse_losses(losses)
    loss.backward()
    assert all(p.grad is None for p in twi.parameters())
    assert model.mbrnet.branches[-1][0].conv.weight.grad.abs().sum() > 0


@pytest.mark.parametrize('student, teacher', [
    ('cascade_rcnn', 'cascade_rcnn'), ('faster_rcnn', 'cascade_rcnn'),
    ('cascade_rcnn', 'faster_rcnn')])
def test_era_with_cascade_trains_and_predicts_in_s_and_t(student, teacher):
    """With Cascade R-CNN on either side ERA trains; S is the student, T the
    teacher's own decode of M_K (a cascade teacher: all its stages); ST is
    refused."""
    from mmdet.structures.bbox import bbox2roi

    from mmera.models.era.mbrnet import MBRNet
    from mmera.models.era.two_stage_head_reuse import decode_boxes
    model = _two_stage_era(student, teacher)
    assert (model.twi.cascade is None) == (teacher == 'faster_rcnn')
    losses = model.loss(*_batch())
    assert torch.isfinite(losses['era.loss_twi'])
    assert _own_loss_keys(student) <= set(losses)
    loss, _ = model.parse_losses(losses)
    loss.backward()
    assert all(p.grad is None for p in model.twi.parameters())

    cascades = [f'the {role} (CascadeRCNN)' for role, family in
                (('student', student), ('teacher', teacher))
                if family == 'cascade_rcnn']
    verb = 'have' if len(cascades) > 1 else 'has'
    message = ('ERADistiller: inference mode "ST" is not supported with '
               f'Cascade R-CNN ({" and ".join(cascades)} {verb} a cascade '
               'RoI head): a cascade refines its boxes stage by stage and '
               "averages its stages' class scores, so no single box head's "
               "outputs can be blended with the other detector's and "
               'decoded alike; use mode "S" (the student alone) or "T" '
               "(the teacher's heads on M_K).")
    for alpha in (0.5, 0.0):
        with pytest.raises(ValueError) as err:
            model.set_inference_mode('ST', alpha)
        assert str(err.value) == message
    assert model.inference_mode == 'S'

    model.eval()
    inputs, samples = _batch()
    with torch.no_grad():
        s_mode = model.predict(inputs, copy.deepcopy(samples))
        ref = model.student.predict(inputs, copy.deepcopy(samples))
        model.set_inference_mode('T')
        t_mode = model.predict(inputs, copy.deepcopy(samples))
        # the reference T: the teacher's own RPN + RoI head on M_K, with
        # the student's R-CNN test settings
        feats = list(model.student.extract_feat(inputs))
        m_last = MBRNet.approximations(
            *model.mbrnet(model.pairing.select_student(feats)))[-1]
        t = model.teacher
        proposals = t.rpn_head.predict(m_last, samples, rescale=False)
        metas = [s.metainfo for s in samples]
        t_ref = t.roi_head.predict_bbox(
            tuple(m_last), metas, [p.clone() for p in proposals],
            model.student.roi_head.test_cfg, rescale=True)
        if teacher == 'cascade_rcnn':  # not the first stage's decode alone
            rois = bbox2roi([p.bboxes for p in proposals])
            stage0 = decode_boxes(model.twi.bbox_head, rois, proposals,
                                  *model.twi.box_outputs([m_last], rois),
                                  metas, model.student.roi_head.test_cfg,
                                  True)
            assert not torch.equal(stage0[0].scores,
                                   t_mode[0].pred_instances.scores)
    for out in (s_mode, t_mode):
        assert len(out[0].pred_instances) > 0
        assert torch.isfinite(out[0].pred_instances.bboxes).all()
    for key in ('bboxes', 'scores', 'labels'):
        for got, want in zip(s_mode, ref):
            assert torch.equal(got.pred_instances[key],
                               want.pred_instances[key])
        for got, want in zip(t_mode, t_ref):
            torch.testing.assert_close(got.pred_instances[key], want[key])


def test_feature_methods_train_a_detr_student_and_era_names_what_lacks():
    """A DETR student (one C5 map, stride 32) of a RetinaNet teacher: PKD
    pairs stride 32 and the student keeps its own set-prediction loss;
    ERA's TWI needs the teacher head's five strides and says so."""
    student = tiny_detector('detr')
    teacher = tiny_detector('retinanet', width=32, channels=64)
    model = _build('PKDDistiller', student, teacher)
    assert model.pairing.strides == (32, )
    losses = model.loss(*_batch())
    assert {'loss_cls', 'loss_bbox', 'loss_iou', 'pkd.loss_feat'} <= set(
        losses)
    loss, _ = model.parse_losses(losses)
    assert torch.isfinite(loss)
    with pytest.raises(ValueError, match=r"the student's neck \(ChannelMapper"
                       r'\) returns strides \[32\].*lacks \[8, 16, 64, 128\]'):
        _build('ERADistiller', student, teacher)


def test_two_stage_twi_in_bf16_is_close_to_fp32():
    """``twi_precision='bf16'``: the frozen RPN and box head run under
    autocast in training; TWI's loss stays float32 and close to fp32's (the
    same weights and RoIs: both built and sampled from the same seeds)."""
    losses = {}
    for precision in ('fp32', 'bf16'):
        torch.manual_seed(0)  # the same random student and teacher
        model = _two_stage_era(twi_precision=precision)
        assert model.twi.precision == precision
        assert model.twi.rpn.precision == precision
        torch.manual_seed(5)
        losses[precision] = model.loss(*_batch())['era.loss_twi']
    assert losses['bf16'].dtype == torch.float32
    torch.testing.assert_close(losses['bf16'], losses['fp32'], rtol=3e-2,
                               atol=1e-3)
    with pytest.raises(ValueError, match='ERADistiller: twi_precision must '
                       'be one of'):
        _two_stage_era(twi_precision='fp8')
    with pytest.raises(ValueError, match='twi_recompute is implemented for '
                       'dense-head teachers.*not for the RPN \\+ RoI head '
                       'of FasterRCNN'):
        _two_stage_era(twi_recompute=True)
