"""Every method directory has a README.md and an mmdet-style metafile.yml
that lists each of its configs (the old-path alias excepted), and the
metafiles agree with the configs they name."""
import os.path as osp

import pytest
import yaml
from cli_helpers import REPO_ROOT
from mmengine.config import Config
from test_config_names import (
    ALIASES,
    CONFIGS,
    METHOD_PREFIXES,
    TEACHER_FREE,
    method_configs,
    name_regex,
    student_and_teacher,
)

METHOD_DIRS = sorted(METHOD_PREFIXES)
# the keys of a model entry in mmdet's own metafiles (mmdet/.mim/configs/*/
# metafile.yml), and of a Results entry
MMDET_MODEL_KEYS = {'Name', 'In Collection', 'Config', 'Metadata', 'Results',
                    'Weights', 'Alias', 'README', 'Paper', 'Code'}
MMDET_RESULT_KEYS = {'Task', 'Dataset', 'Metrics'}
# the data token of a config name -> the metafile's Dataset
DATASET_NAMES = {
    'coco': 'COCO',
    'synthetic': 'synthetic',
    'deepforest': 'DeepForest-mini',
    'deepforest-ood': 'DeepForest-ood',
}


def _load(method_dir: str) -> dict:
    with open(osp.join(CONFIGS, method_dir, 'metafile.yml')) as f:
        return yaml.safe_load(f)


def test_pyyaml_is_installed():
    # mmengine depends on PyYAML; the metafiles need nothing else
    assert yaml.safe_load('a: [1, 2]') == {'a': [1, 2]}


@pytest.mark.parametrize('method_dir', METHOD_DIRS + ['tiny'])
def test_readme_lists_every_config(method_dir):
    path = osp.join(CONFIGS, method_dir, 'README.md')
    assert osp.isfile(path), f'configs/{method_dir}/README.md is missing'
    with open(path) as f:
        text = f.read()
    assert text.startswith('# '), 'a README starts with its title'
    for rel in method_configs(method_dir):
        assert f'`{osp.basename(rel)}`' in text, (
            f'configs/{method_dir}/README.md does not list {rel}')
    if method_dir != 'tiny':
        for section in ('## Results', '## Configs', '## Citation'):
            assert section in text, (method_dir, section)


@pytest.mark.parametrize('method_dir', METHOD_DIRS)
def test_metafile_lists_every_config(method_dir):
    assert osp.isfile(osp.join(CONFIGS, method_dir, 'metafile.yml'))
    meta = _load(method_dir)
    assert set(meta) == {'Collections', 'Models'}

    collections = {c['Name']: c for c in meta['Collections']}
    assert len(collections) == len(meta['Collections']) >= 1
    for c in collections.values():
        assert c['README'] == f'configs/{method_dir}/README.md'
        assert osp.isfile(osp.join(REPO_ROOT, c['README']))
        assert c['Paper']['Title']
        assert c['Metadata']['Training Techniques']

    listed = []
    for model in meta['Models']:
        name, config = model['Name'], model['Config']
        assert set(model) <= MMDET_MODEL_KEYS, (name, set(model))
        assert {'Name', 'In Collection', 'Config', 'Metadata'} <= set(model)
        assert model['In Collection'] in collections, name
        assert osp.isfile(osp.join(REPO_ROOT, config)), (
            f'{method_dir}/metafile.yml: {config} does not exist')
        assert osp.dirname(config) == f'configs/{method_dir}', config
        assert osp.basename(config) == name + '.py', (
            f'Name {name!r} is not the file name of {config}')
        listed.append(osp.relpath(config, 'configs'))
    assert len(listed) == len(set(listed)), f'{method_dir}: listed twice'
    assert not set(listed) & set(ALIASES), 'an alias is not a model'
    assert set(listed) == set(method_configs(method_dir)), (
        f'{method_dir}/metafile.yml lists {sorted(listed)}, the directory '
        f'holds {method_configs(method_dir)}')


def test_model_names_are_unique_across_metafiles():
    names = [m['Name'] for d in METHOD_DIRS for m in _load(d)['Models']]
    assert len(names) == len(set(names)), sorted(names)
    collections = [c['Name'] for d in METHOD_DIRS
                   for c in _load(d)['Collections']]
    assert len(collections) == len(set(collections)), collections


@pytest.mark.parametrize('method_dir', METHOD_DIRS)
def test_metafile_models_agree_with_their_configs(method_dir):
    regex = name_regex(method_dir)
    for model in _load(method_dir)['Models']:
        name, meta = model['Name'], model['Metadata']
        parts = regex.match(osp.basename(model['Config']))
        cfg = Config.fromfile(osp.join(REPO_ROOT, model['Config']))
        # teacher: the config's teacher_config, as an mmdet:: path or a
        # path from the repository root; a teacher given as a config dict
        # (mmdet's LD detector reads no mmdet:: path): the mmdet:: config
        # whose model it is
        teacher = student_and_teacher(cfg)[1]
        if method_dir in TEACHER_FREE:
            assert teacher is None and meta['Teacher'] == 'none', name
        elif isinstance(teacher, dict):
            from coco_offline import without_scope

            from mmera.models import load_model_config
            assert '::' in meta['Teacher'], name
            assert without_scope(load_model_config(teacher)) == (
                without_scope(load_model_config(meta['Teacher']))), name
        elif '::' in teacher:
            assert meta['Teacher'] == teacher, name
        else:
            assert meta['Teacher'] == osp.relpath(
                osp.normpath(teacher), REPO_ROOT), name
        assert meta['Student'], name
        # schedule
        schedule = parts['schedule']
        if schedule.endswith(('x', 'e')):
            assert meta['Schedule'] == schedule, name
            assert meta['Epochs'] == cfg.train_cfg.max_epochs, name
        else:
            assert meta['Schedule'] == f'{cfg.train_cfg.max_iters} iterations'
            assert meta['Iterations'] == cfg.train_cfg.max_iters, name
        # results: only measured ones, on the config's own data; nothing
        # was run on COCO (no weights anywhere)
        assert 'Weights' not in model, name
        results = model.get('Results', [])
        if parts['data'] == 'coco':
            assert not results, f'{name}: no COCO run was made'
            assert 'Train Step Ratio to Student' not in meta, name
        for result in results:
            assert set(result) == MMDET_RESULT_KEYS, name
            assert result['Task'] == 'Object Detection', name
            assert result['Dataset'] == DATASET_NAMES[parts['data']], name
            metrics = result['Metrics']
            assert set(metrics) <= {'box AP', 'box AP50'}, name
            assert all(0 <= v <= 100 for v in metrics.values()), name
        # measured results name the teacher they were measured with (a
        # config of the repository, checked above against teacher_config)
        # and how many seeds they are the mean of (benchmarks/docs.py
        # writes them from the run records)
        if results:
            assert len(results) == 1, name
            assert meta['Training Resources'] == 'CPU, one thread per run'
            assert meta['Seeds'] >= 1, name
            assert meta.get('Teacher') and (
                meta['Teacher'] == 'none' or osp.isfile(
                    osp.join(REPO_ROOT, meta['Teacher']))), name
            assert meta.get('Train Step Ratio to Student', 1) > 0, name
        else:
            assert 'Seeds' not in meta, name
            assert 'Train Step Ratio to Student' not in meta, name
