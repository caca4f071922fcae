"""tools/pair_report.py: per method, trains or its refusal, what it pairs,
the parameters it adds, its step time and memory against the student's and
the floor's, and the deployed student's cost."""
import re

import torch

from mmera.analysis.pair_report import config_input_size, main
from mmera.analysis.step_memory import call_peak_bytes, resident_bytes

TEACHER = 'configs/tiny/retinanet_r34w32_fpn_500it_synthetic.py'
STUDENT = 'configs/tiny/retinanet_r18w16_fpn_500it_synthetic.py'


def test_report_of_a_tiny_pair(capsys, one_thread):
    main([TEACHER, STUDENT, '--img-size', '64', '--steps', '1',
          '--methods', 'PKD', 'LD', 'head-init'])
    out = capsys.readouterr().out
    assert 'two random 64x64 images per step' in out
    assert re.search(r'Student alone: step \d+ ms \(.*\), peak memory '
                     r'[\d,]+ MiB', out)
    assert "Floor: " in out and "the frozen teacher's forward" in out
    assert re.search(r'Deployed model .*: [\d.]+ M params, [\d.e-]+ GFLOPs '
                     r'at 64x64', out)
    pkd = out[out.index('PKD: trains'):out.index('LD: ')]
    assert 'pairs: neck strides [8, 16, 32, 64, 128]' in pkd
    assert 'adds 0 trainable parameters' in pkd
    assert re.search(r'step \d+ ms = [\d.]+ x student, [\d.]+ x floor', pkd)
    assert re.search(r'peak memory [\d,]+ MiB = [\d.]+ x student', pkd)
    # a refused method shows its message, and nothing measured
    ld = out[out.index('LD: refused'):out.index('head-init: ')]
    assert 'distils the box-side distributions of a GFL head' in ld
    assert 'RetinaHead' in ld and 'x floor' not in ld
    head = out[out.index('head-init: trains'):]
    assert "the teacher's bbox_head weights start the student's" in head


def test_era_reports_what_its_inference_modes_cost(capsys, one_thread):
    main([TEACHER, STUDENT, '--img-size', '64', '--steps', '1',
          '--methods', 'ERA'])
    era = capsys.readouterr().out.split('ERA: trains')[1]
    line = era[era.index('inference (one image'):].splitlines()[0]
    assert 'T and ST need mmera, the exported student is S' in line
    got = {m: (float(g), float(r)) for m, g, r in re.findall(
        r'(ST|S|T) ([\d.e-]+) GFLOPs \(([\d.]+) x S\)', line)}
    assert set(got) == {'S', 'T', 'ST'} and got['S'][1] == 1.0
    # ST runs both heads on the student's features, T the teacher's only
    assert got['ST'][0] > got['T'][0] and got['ST'][0] > got['S'][0]


def test_input_size_is_the_test_resize():
    assert config_input_size(
        'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py') == 800
    assert config_input_size(
        'mmdet::rtmdet/rtmdet_tiny_8xb32-300e_coco.py') == 640


def test_peak_memory_counts_what_a_call_holds_at_once():
    def call():
        a = torch.ones(1024, 1024)  # 4 MiB
        b = a * 2  # 8 MiB at once
        del a, b
    assert 8 * 2**20 <= call_peak_bytes(call) < 12 * 2**20
    layer = torch.nn.Linear(10, 10)
    assert resident_bytes([layer, layer]) == 110 * 4
