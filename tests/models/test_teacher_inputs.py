"""The teacher sees each image as its own data preprocessor would."""
import copy

import pytest
import torch
from mmdet.registry import MODELS
from tiny_detectors import family_config, make_samples, tiny_detector

from mmera.models.common.teacher_inputs import TeacherInputs

# caffe-style (BGR, std 1) and pytorch-style (RGB, mean/std) ResNets
CAFFE = family_config('fcos').data_preprocessor
PYTORCH = family_config('retinanet').data_preprocessor


def _raw_batch():
    torch.manual_seed(0)
    images = [torch.randint(0, 256, (3, 100, 120), dtype=torch.uint8),
              torch.randint(0, 256, (3, 128, 96), dtype=torch.uint8)]
    samples = make_samples(2)
    for image, sample in zip(images, samples):
        sample.set_metainfo(dict(img_shape=tuple(image.shape[1:])))
    return dict(inputs=images, data_samples=samples)


def _preprocess(cfg, data):
    pre = MODELS.build(copy.deepcopy(cfg))
    out = pre(copy.deepcopy(data), training=False)
    return pre, out['inputs'], out['data_samples']


def test_caffe_teacher_of_a_pytorch_student_gets_its_own_input():
    data = _raw_batch()
    s_pre, s_inputs, samples = _preprocess(PYTORCH, data)
    t_pre, t_inputs, _ = _preprocess(CAFFE, data)
    assert s_inputs.shape == t_inputs.shape == (2, 3, 128, 128)
    convert = TeacherInputs(s_pre, t_pre)
    assert convert.swap and not convert.same
    out = convert(s_inputs, samples)
    torch.testing.assert_close(out, t_inputs, atol=2e-3, rtol=0)
    # the student's tensor itself is far from what the teacher expects
    assert (s_inputs - t_inputs).abs().max() > 50


def test_equal_preprocessors_pass_the_batch_through():
    data = _raw_batch()
    s_pre, s_inputs, samples = _preprocess(PYTORCH, data)
    convert = TeacherInputs(s_pre, MODELS.build(copy.deepcopy(PYTORCH)))
    assert convert.same
    assert convert(s_inputs, samples) is s_inputs


def test_distiller_feeds_the_teacher_its_own_normalisation():
    student = tiny_detector('retinanet')
    teacher = tiny_detector('fcos', width=8)
    model = MODELS.build(dict(type='FitNetDistiller', student=student,
                              teacher_config=teacher))
    model.teacher_loaded = True
    data = _raw_batch()
    student_batch = model.data_preprocessor(copy.deepcopy(data), False)
    teacher_batch = model.teacher.data_preprocessor(copy.deepcopy(data),
                                                    False)
    got = model.teacher_features(student_batch['inputs'],
                                 student_batch['data_samples'])
    want = model.teacher.extract_feat(teacher_batch['inputs'])
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, atol=1e-3, rtol=1e-3)


def test_what_a_per_pixel_conversion_cannot_fix_is_refused():
    student = MODELS.build(copy.deepcopy(PYTORCH))
    gray = copy.deepcopy(CAFFE)
    gray.update(mean=[128.0], std=[64.0])
    with pytest.raises(ValueError, match='normalises 3 channels, the '
                       "teacher's 1"):
        TeacherInputs(student, MODELS.build(gray))
    with pytest.raises(ValueError, match='through a Linear'):
        TeacherInputs(student, torch.nn.Linear(1, 1))


def test_the_teachers_padding_multiple_is_applied():
    """An RTMDet-style student (no padding multiple) of a ResNet teacher
    (multiples of 32): the teacher gets its batch padded as its own
    preprocessor pads it."""
    data = _raw_batch()
    unpadded = copy.deepcopy(PYTORCH)
    unpadded.pad_size_divisor = 1
    s_pre, s_inputs, samples = _preprocess(unpadded, data)
    t_pre, t_inputs, _ = _preprocess(CAFFE, data)
    assert s_inputs.shape[-2:] == (128, 120)
    out = TeacherInputs(s_pre, t_pre)(s_inputs, samples)
    assert out.shape == t_inputs.shape == (2, 3, 128, 128)
    torch.testing.assert_close(out, t_inputs, atol=2e-3, rtol=0)
