"""The suites of the driver: the detector families, every method on a set,
the demo, and the groups the command line takes."""
import os.path as osp

import pytest
from mmengine.config import Config

from benchmarks.__main__ import parse_args
from benchmarks.paths import repo_path
from benchmarks.rekey import unstated_options
from benchmarks.suites import (
    BASELINE,
    FAMILY_SUITES,
    GROUPS,
    MAIN_SUITES,
    PINNED_SUITES,
    SUITES,
    TEACHER_FREE,
    expand,
)
from benchmarks.teachers import SETS, teacher_ckpt, teacher_config


def test_every_suite_config_exists():
    for name, suite in SUITES.items():
        assert suite.data in SETS, name
        for method, config in suite.configs().items():
            assert osp.isfile(repo_path(config)), (name, method, config)


@pytest.mark.parametrize('name', FAMILY_SUITES + PINNED_SUITES + (
    'deepforest-methods', 'synthetic-methods'))
def test_distillers_train_the_baseline_and_load_the_suite_teacher(name):
    """Each distiller of a family or methods suite trains the suite's
    student config and loads the teacher that benchmarks.teachers trains
    and publishes for the suite's set and detector."""
    suite = SUITES[name]
    student = Config.fromfile(repo_path(suite.baseline))
    for method, config in suite.methods.items():
        if method in TEACHER_FREE:  # e.g. a longer student, trunk-branch
            continue
        cfg = Config.fromfile(repo_path(config))
        assert cfg.train_cfg == student.train_cfg, (name, method)
        if 'teacher_ckpt' not in cfg.model:  # mmdet's LD: its own key
            continue
        assert osp.normpath(cfg.model.teacher_ckpt) == teacher_ckpt(
            suite.data, detector=suite.detector), (name, method)
        if name in FAMILY_SUITES and 'student' in cfg.model:
            assert cfg.model.student == student.model, (name, method)
            assert osp.normpath(cfg.model.teacher_config) == teacher_config(
                suite.data, suite.detector)


@pytest.mark.parametrize('name', PINNED_SUITES)
def test_pinned_suites_state_every_option_of_their_distillers(name):
    """A record is keyed by the resolved config: a config that leaves an
    option to its default would silently change meaning with the default.
    """
    for method, config in SUITES[name].methods.items():
        model = Config.fromfile(repo_path(config)).model
        assert not unstated_options(model), (method, unstated_options(model))


def test_the_families_and_the_demo():
    assert [SUITES[s].detector for s in FAMILY_SUITES] == [
        'fcos', 'atss', 'gfl', 'rtmdet', 'fasterrcnn']
    assert list(SUITES['synthetic-fcos'].methods) == [
        'era', 'era-sampled', 'era-halftwi']
    assert list(SUITES['synthetic-fasterrcnn'].methods) == ['era', 'pkd']
    for data in ('synthetic', 'deepforest'):
        demo, main = SUITES[f'demo-{data}'], SUITES[f'{data}-retinanet']
        assert list(demo.configs()) == [BASELINE, 'era-fast']
        # the main table's baseline against ERA at its defaults
        assert demo.configs()[BASELINE] == main.configs()[BASELINE]
        assert _runs_at_the_defaults(demo.configs()['era-fast'])
    assert SUITES['demo-synthetic'].configs()['era-fast'] == SUITES[
        'synthetic-retinanet'].configs()['era-fast']


def _runs_at_the_defaults(config: str) -> bool:
    """Whether the ERA config builds what ERADistiller builds from its
    student and teacher alone: the same MBRNet and TWI mode."""
    from mmengine.registry import init_default_scope

    from mmera.registry import MODELS
    init_default_scope('mmdet')
    model = Config.fromfile(repo_path(config)).model
    bare = {k: model[k] for k in ('type', 'student', 'teacher_config',
                                  'teacher_ckpt')}
    built, default = MODELS.build(model), MODELS.build(bare)
    shapes = [{k: v.shape for k, v in m.mbrnet.state_dict().items()}
              for m in (built, default)]
    return shapes[0] == shapes[1] and built.twi_mode == default.twi_mode


def test_groups_expand_on_the_command_line():
    assert expand(['main']) == list(MAIN_SUITES)
    assert expand(['families', 'synthetic-gfl']) == list(FAMILY_SUITES)
    with pytest.raises(KeyError, match='unknown suite'):
        expand(['nope'])
    assert parse_args([]).suites == list(MAIN_SUITES)
    args = parse_args(['--suites', 'families', 'demo-synthetic',
                       '--no-records', '--seeds', '0'])
    assert args.suites == [*FAMILY_SUITES, 'demo-synthetic']
    assert (args.no_records, args.seeds) == (True, [0])
    assert set(GROUPS) == {'main', 'families'}
