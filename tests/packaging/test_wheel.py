"""The wheel works without the checkout.

The wheel is built once (sdist first, so MANIFEST.in is checked too, then a
wheel from that sdist) and installed with ``pip install --target`` into a
temporary ``site`` directory. The runs are subprocesses with
``PYTHONPATH=site`` (the wheel's mmera is found before the project's
editable one) in a temporary working directory, on a tiny synthetic set and a
random teacher checkpoint made here: the shipped configs find ``data/`` and
``work_dirs/`` relative to the repository, which inside the wheel points into
``site``, so the runs override those paths, and nothing may be written into
``site``.

Covered: ``mim train mmera <config file name>``; a user config inheriting
``mmera::era/<config>.py`` trained by the wheel's ``.mim/tools/train.py``;
mmdet's packaged ``tools/train.py`` on a user config that reaches mmera only
through ``custom_imports``; and what the project's editable install cannot
do (docs/install.md).
"""
import importlib.util
import os
import os.path as osp
import re
import subprocess
import sys
import textwrap
import zipfile

import pytest
from cli_helpers import REPO_ROOT

TINY = 'era-fast_retinanet_r34w32-r18w16_fpn_500it_synthetic.py'
TINY_REL = 'era/' + TINY
TEACHER_CFG_REL = 'tiny/retinanet_r34w32_fpn_3000it_synthetic.py'
BIN = osp.dirname(sys.executable)
MIM = osp.join(BIN, 'mim')
# tools the wheel ships (the benchmark suite, benchmarks/, stays in the
# checkout)
SHIPPED_TOOLS = {
    '_bootstrap.py', 'train.py', 'test.py', 'export_student.py',
    'pair_report.py', 'dist_train.sh', 'dist_test.sh', 'dataset_converters',
    'model_converters'
}


def _run(cmd, cwd, env, timeout=300):
    proc = subprocess.run([str(c) for c in cmd], cwd=str(cwd), env=env,
                          capture_output=True, text=True, timeout=timeout,
                          check=False)
    return proc, proc.stdout + proc.stderr


def _ok(proc, out):
    assert proc.returncode == 0, f'{proc.args} failed:\n{out[-6000:]}'


def _files(root):
    """Every path under ``root`` with its size and mtime: the snapshot that
    shows whether a run wrote anything into the installed package."""
    snap = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = osp.join(dirpath, name)
            st = os.lstat(path)
            snap[osp.relpath(path, root)] = (st.st_size, st.st_mtime_ns)
    return snap


def _assert_untouched(site, before):
    after = _files(site)
    new = sorted(set(after) - set(before))
    changed = sorted(p for p in before if after.get(p) != before[p])
    assert not new and not changed, (
        f'the run wrote into the installed package: new {new[:10]}, '
        f'changed {changed[:10]}')


def _tree(root):
    out = set()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != '__pycache__']
        out |= {osp.relpath(osp.join(dirpath, f), root) for f in filenames
                if not f.endswith('.pyc')}
    return out


@pytest.fixture(scope='module')
def wheel(tmp_path_factory):
    """sdist (MANIFEST.in) -> wheel, both built outside the checkout."""
    out = tmp_path_factory.mktemp('dist')
    proc, log = _run([
        sys.executable, 'setup.py', '-q', 'egg_info', '--egg-base', out,
        'sdist', '-d', out
    ], cwd=REPO_ROOT, env=os.environ.copy())
    _ok(proc, log)
    (sdist,) = [p for p in out.iterdir() if p.name.endswith('.tar.gz')]
    proc, log = _run([
        sys.executable, '-m', 'pip', 'wheel', '-q', '--no-deps',
        '--no-build-isolation', sdist, '-w', out
    ], cwd=out, env=os.environ.copy())
    _ok(proc, log)
    (whl,) = out.glob('mmera-*.whl')
    return str(whl)


@pytest.fixture(scope='module')
def site(wheel, tmp_path_factory):
    root = tmp_path_factory.mktemp('wheel_site') / 'site'
    proc, log = _run([
        sys.executable, '-m', 'pip', 'install', '-q', '--no-deps',
        '--target', root, wheel
    ], cwd=root.parent, env=os.environ.copy())
    _ok(proc, log)
    return str(root)


@pytest.fixture(scope='module')
def wheel_env(site):
    """The environment of a user who pip-installed the wheel."""
    env = dict(os.environ, PYTHONPATH=site, OMP_NUM_THREADS='1',
               MKL_NUM_THREADS='1')
    env.pop('PYTHONSTARTUP', None)
    return env


@pytest.fixture(scope='module')
def plain_env():
    """The project's environment as it is (mmera installed editable)."""
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
    env.pop('PYTHONPATH', None)
    return env


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    """A handful of 64 px synthetic images in COCO format."""
    from mmera.datasets.synthetic_coco import make_synthetic_coco
    root = tmp_path_factory.mktemp('wheel_data')
    make_synthetic_coco(str(root), 4, 2, seed=0, img_size=64)
    return str(root) + '/'


@pytest.fixture(scope='module')
def teacher_ckpt(site, tmp_path_factory):
    """The tiny teacher of the shipped config, random weights, saved."""
    import torch
    from mmdet.registry import MODELS
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    import mmera  # noqa: F401
    init_default_scope('mmdet')
    cfg = Config.fromfile(
        osp.join(site, 'mmera', '.mim', 'configs', TEACHER_CFG_REL))
    torch.manual_seed(0)
    teacher = MODELS.build(cfg.model)
    path = tmp_path_factory.mktemp('wheel_teacher') / 'teacher.pth'
    torch.save({'state_dict': teacher.state_dict()}, path)
    return str(path)


def _overrides(data_root, teacher_ckpt):
    """2 iterations, batch 2 at 64 px in the main process, no validation,
    no checkpoint (``ExportStudentHook`` still writes the student), the data
    and the teacher made here."""
    return {
        'train_dataloader.batch_size': 2,
        'train_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False,
        'train_dataloader.dataset.data_root': data_root,
        # pipeline[2] is the Resize (checked in test_wheel_contents)
        'train_dataloader.dataset.pipeline.2.scale': (64, 64),
        'model.teacher_ckpt': teacher_ckpt,
        'train_cfg.max_iters': 2,
        'val_cfg': None,
        'val_dataloader': None,
        'val_evaluator': None,
        'test_cfg': None,
        'test_dataloader': None,
        'test_evaluator': None,
        'default_hooks.checkpoint.save_best': None,
        'default_hooks.checkpoint.save_last': False,
        'default_hooks.logger.interval': 1,
    }


def _cfg_options(overrides):
    args = []
    for key, value in overrides.items():
        if isinstance(value, tuple):
            value = '(' + ','.join(map(str, value)) + ')'
        args.append(f'{key}={value}')
    return ['--cfg-options'] + args


def _assert_trained(work_dir, out):
    assert 'Iter(train) [2/2]' in out, out[-4000:]
    assert osp.isfile(osp.join(work_dir, 'student_final.pth')), out[-4000:]
    assert 'Failed to search registry' not in out, out[-4000:]


def test_wheel_contents(wheel, site):
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        meta = zf.read(next(n for n in names
                            if n.endswith('.dist-info/METADATA'))).decode()
    tops = {n.split('/')[0] for n in names}
    assert tops == {'mmera', osp.basename(wheel).split('-py')[0] +
                    '.dist-info'}, tops
    assert any(n.endswith('.dist-info/licenses/LICENSE') for n in names)
    for line in ('License: Apache-2.0', 'Requires-Python: >=3.8',
                 ('Classifier: License :: OSI Approved :: Apache Software '
                  'License'),
                 'Classifier: Operating System :: OS Independent',
                 'Classifier: Programming Language :: Python :: 3.8',
                 'Classifier: Programming Language :: Python :: 3.11'):
        assert line in meta, line

    mim = osp.join(site, 'mmera', '.mim')
    assert sorted(os.listdir(mim)) == ['configs', 'model-index.yml', 'tools']
    # every file of configs/, nothing else
    assert _tree(osp.join(mim, 'configs')) == _tree(
        osp.join(REPO_ROOT, 'configs'))
    tools = {n.split('/')[3] for n in names
             if n.startswith('mmera/.mim/tools/')}
    assert tools == SHIPPED_TOOLS, tools
    assert not any(n.split('/')[0] == 'benchmarks' for n in names)
    with open(osp.join(mim, 'model-index.yml')) as f, open(
            osp.join(REPO_ROOT, 'model-index.yml')) as g:
        assert f.read() == g.read()
    # the build wrote nothing into the checkout's package
    assert not osp.exists(osp.join(REPO_ROOT, 'mmera', '.mim'))

    # what the runs below override is where they expect it
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(mim, 'configs', TINY_REL),
                          import_custom_modules=False)
    assert cfg.train_dataloader.dataset.pipeline[2].type == 'Resize'


def test_model_index_imports_every_metafile():
    import yaml
    with open(osp.join(REPO_ROOT, 'model-index.yml')) as f:
        index = yaml.safe_load(f)
    metafiles = sorted(
        f'configs/{d}/metafile.yml'
        for d in os.listdir(osp.join(REPO_ROOT, 'configs'))
        if osp.isfile(osp.join(REPO_ROOT, 'configs', d, 'metafile.yml')))
    assert sorted(index['Import']) == metafiles


def test_wheel_mmera_shadows_the_checkout(site, wheel_env, tmp_path):
    """What the runs import and where mmengine and mim look: the wheel."""
    code = ['import importlib.util',
            'from mmengine.utils import get_installed_path',
            "print(importlib.util.find_spec('mmera').origin)",
            "print(get_installed_path('mmera'))"]
    if importlib.util.find_spec('mim') is not None:
        code += ['from mim.utils import get_installed_path as mim_path',
                 "print(mim_path('mmera'))"]
    proc, out = _run([sys.executable, '-c', '\n'.join(code)], tmp_path,
                     wheel_env)
    _ok(proc, out)
    lines = proc.stdout.split()
    assert lines[0] == osp.join(site, 'mmera', '__init__.py')
    assert set(lines[1:]) == {osp.join(site, 'mmera')}


def test_mim_train_finds_the_config_by_name(site, wheel_env, data_root,
                                            teacher_ckpt, tmp_path):
    if not osp.isfile(MIM):
        pytest.skip('openmim is not installed (make setup installs it)')
    before = _files(site)
    proc, out = _run([MIM, 'train', 'mmera', TINY] +
                     _cfg_options(_overrides(data_root, teacher_ckpt)),
                     tmp_path, wheel_env)
    _ok(proc, out)
    used = osp.join(osp.realpath(site), 'mmera', '.mim', 'configs', TINY_REL)
    assert f'will use {used} instead' in out, out[-4000:]
    assert osp.join(site, 'mmera', '.mim', 'tools', 'train.py') in out
    _assert_trained(tmp_path / 'work_dirs' / TINY[:-3], out)
    _assert_untouched(site, before)


def test_user_config_inherits_mmera_base(site, wheel_env, data_root,
                                         teacher_ckpt, tmp_path):
    """``_base_ = 'mmera::...'``: mmera's tools/train.py imports mmera (which
    adds itself to mmengine's package table) before reading the config, and
    the base's dicts, tagged ``_scope_='mmera'``, build from mmera's child
    registries."""
    body = [f"_base_ = 'mmera::{TINY_REL}'"]
    for key, value in _overrides(data_root, teacher_ckpt).items():
        if '.' not in key:
            body.append(f'{key} = {value!r}')
    # the rest as the nested dicts a user writes
    body.append(textwrap.dedent(f"""
        train_dataloader = dict(
            batch_size=2, num_workers=0, persistent_workers=False,
            dataset=dict(data_root={data_root!r}, pipeline=[
                dict(type='LoadImageFromFile'),
                dict(type='LoadAnnotations', with_bbox=True),
                dict(type='Resize', scale=(64, 64), keep_ratio=True),
                dict(type='PackDetInputs')]))
        model = dict(teacher_ckpt={teacher_ckpt!r})
        train_cfg = dict(max_iters=2)
        default_hooks = dict(
            checkpoint=dict(save_best=None, save_last=False),
            logger=dict(interval=1))
        """))
    (tmp_path / 'my_era.py').write_text('\n'.join(body))
    before = _files(site)
    train = osp.join(site, 'mmera', '.mim', 'tools', 'train.py')
    proc, out = _run([sys.executable, train, 'my_era.py'], tmp_path,
                     wheel_env)
    _ok(proc, out)
    work_dir = tmp_path / 'work_dirs' / 'my_era'
    _assert_trained(work_dir, out)
    dumped = (work_dir / 'my_era.py').read_text()
    assert "_scope_='mmera'" in dumped
    assert osp.join(site, 'mmera', '.mim', 'configs') in dumped
    _assert_untouched(site, before)


def test_mmdet_train_script_with_custom_imports(site, wheel_env, data_root,
                                                teacher_ckpt, tmp_path):
    """mmdet's packaged tools/train.py never imports mmera: the user's
    config (a shipped config saved as one file, no ``_base_``) does, through
    ``custom_imports``."""
    from mmengine.config import Config
    cfg = Config.fromfile(
        osp.join(site, 'mmera', '.mim', 'configs', TINY_REL),
        import_custom_modules=False)
    cfg.merge_from_dict(_overrides(data_root, teacher_ckpt))
    cfg.dump(str(tmp_path / 'user_era.py'))
    text = (tmp_path / 'user_era.py').read_text()
    assert not re.search(r'^_base_\s*=', text, re.MULTILINE)
    assert 'mmera::' not in text
    assert cfg.custom_imports.imports == ['mmera']

    import mmdet
    train = osp.join(osp.dirname(mmdet.__file__), '.mim', 'tools',
                     'train.py')
    before = _files(site)
    proc, out = _run([sys.executable, train, 'user_era.py'], tmp_path,
                     wheel_env)
    _ok(proc, out)
    _assert_trained(tmp_path / 'work_dirs' / 'user_era', out)
    _assert_untouched(site, before)


# --- the project's editable install (``make setup``: pip install -e .) -----

@pytest.fixture(scope='module')
def editable(tmp_path_factory):
    """Skips unless this environment's mmera is the checkout, editable."""
    spec = importlib.util.find_spec('mmera')
    if spec is None or not spec.origin.startswith(
            osp.join(REPO_ROOT, 'mmera')):
        pytest.skip('mmera is not installed editable from this checkout')
    return tmp_path_factory.mktemp('editable')


def test_editable_install_cannot_resolve_mmera_bases(editable, monkeypatch):
    """An editable install has no ``mmera/.mim``: mmengine looks for it
    beside the distribution's metadata in site-packages and finds nothing
    there (docs/install.md says what to do instead). Run here, as from a
    directory outside the checkout."""
    from mmengine.config import Config

    import mmera  # noqa: F401  (adds mmera to mmengine's package table)
    monkeypatch.chdir(editable)
    monkeypatch.setattr(sys, 'path', [
        p for p in sys.path
        if p and osp.realpath(p) != osp.realpath(REPO_ROOT)])
    (editable / 'my_era.py').write_text(f"_base_ = 'mmera::{TINY_REL}'\n")
    with pytest.raises(FileNotFoundError) as err:
        Config.fromfile(str(editable / 'my_era.py'))
    assert osp.join('site-packages', 'mmera', '.mim',
                    'model-index.yml') in str(err.value)


def test_editable_install_reads_the_checkouts_configs_by_path(editable):
    """What works instead: the checkout's configs by path (as ``_base_``,
    or given to ``mim train mmdet``/``tools/train.py``); they import mmera
    themselves."""
    from mmengine.config import Config
    base = osp.join(REPO_ROOT, 'configs', TINY_REL)
    (editable / 'by_path.py').write_text(f'_base_ = {base!r}\n')
    cfg = Config.fromfile(str(editable / 'by_path.py'))
    assert cfg.model.type == 'ERADistiller'
    assert cfg.custom_imports.imports == ['mmera']
    assert cfg.runner_type == 'mmdet.MMERARunner'


def test_editable_install_mim_train_finds_no_config(editable, plain_env):
    if not osp.isfile(MIM):
        pytest.skip('openmim is not installed (make setup installs it)')
    proc, out = _run([MIM, 'train', 'mmera', TINY], editable, plain_env)
    assert proc.returncode != 0
    assert 'can not find the config file in codebase mmera' in out, out[-3000:]
