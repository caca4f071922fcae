"""Installs mmera, an MMDetection 3.x plugin for detector distillation.

Like mmdet and mmyolo, the wheel and the sdist carry the configs, the user
tools and ``model-index.yml`` under ``mmera/.mim/``: that is where openmim
(``mim train mmera <config>``) and mmengine (``_base_ = 'mmera::...'``) look
for them. They are copied into the build directory, never into the checkout.
An editable install (``pip install -e .``) has no ``mmera/.mim``: see
docs/install.md.
"""
import os
import os.path as osp
import shutil

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

HERE = osp.dirname(osp.abspath(__file__))

# What mmera/.mim holds, as paths relative to the repository root (the same
# paths under .mim). Only the user tools: the research harness stays out.
MIM_FILES = [
    'model-index.yml',
    'configs',
    'tools/_bootstrap.py',
    'tools/train.py',
    'tools/test.py',
    'tools/export_student.py',
    'tools/pair_report.py',
    'tools/dist_train.sh',
    'tools/dist_test.sh',
    'tools/dataset_converters',
    'tools/model_converters',
]
MIM_IGNORE = shutil.ignore_patterns('__pycache__', '*.pyc', '*.pyo')


def copy_mim_files(src_root: str, mim_dir: str) -> None:
    """Copies :data:`MIM_FILES` from ``src_root`` into ``mim_dir``, which is
    emptied first (no stale files from an earlier build)."""
    missing = [p for p in MIM_FILES if not osp.exists(osp.join(src_root, p))]
    if missing:
        raise FileNotFoundError(
            f'cannot build mmera without {missing} (under {src_root}): '
            'the package ships them in mmera/.mim. Build from a checkout or '
            'from an sdist made with MANIFEST.in.')
    if osp.isdir(mim_dir):
        shutil.rmtree(mim_dir)
    for rel in MIM_FILES:
        src, dst = osp.join(src_root, rel), osp.join(mim_dir, rel)
        os.makedirs(osp.dirname(dst), exist_ok=True)
        if osp.isdir(src):
            shutil.copytree(src, dst, ignore=MIM_IGNORE)
        else:
            shutil.copy2(src, dst)


class BuildPyWithMim(build_py):
    """``build_py`` that also writes ``mmera/.mim`` into the build directory.

    Skipped for editable installs: their build directory is temporary, and
    mmengine and openmim would look for ``.mim`` in site-packages, where an
    editable install has no ``mmera`` directory (docs/install.md).
    """

    def run(self) -> None:
        super().run()
        if getattr(self, 'editable_mode', False):
            return
        copy_mim_files(HERE, osp.join(self.build_lib, 'mmera', '.mim'))


def read_version() -> str:
    """Reads ``__version__`` without importing mmera (its deps may be
    absent)."""
    scope: dict = {}
    with open(osp.join(HERE, 'mmera', 'version.py')) as f:
        exec(f.read(), scope)
    return scope['__version__']


def read_readme() -> str:
    with open(osp.join(HERE, 'README.md'), encoding='utf-8') as f:
        return f.read()


setup(
    name='mmera',
    version=read_version(),
    description='Knowledge distillation of object detectors for '
    'MMDetection 3.x: ERA (Expandable Residual Approximation) and related '
    'methods',
    long_description=read_readme(),
    long_description_content_type='text/markdown',
    author='mmera contributors',
    keywords='computer vision, object detection, knowledge distillation, '
    'mmdetection, openmmlab',
    # TODO: the project's public repository, once it has one.
    url='https://github.com/OWNER/mmera',
    project_urls={
        'Source': 'https://github.com/OWNER/mmera',
        'Tracker': 'https://github.com/OWNER/mmera/issues',
        'ERA paper': 'https://arxiv.org/abs/2508.16050',
        'MMDetection': 'https://github.com/open-mmlab/mmdetection',
    },
    license='Apache-2.0',
    license_files=['LICENSE'],
    packages=find_packages(include=['mmera', 'mmera.*']),
    cmdclass={'build_py': BuildPyWithMim},
    python_requires='>=3.8',
    # Ranges that match the stack mmdet 3.3.0 supports. mmcv must ship its
    # ops (not mmcv-lite) and stay below 2.2.0, which mmdet 3.3.0 asserts.
    # torch is deliberately absent: users bring their own (CPU or CUDA) build.
    install_requires=[
        'mmcv>=2.0.0rc4,<2.2.0',
        'mmengine>=0.10.0,<0.11.0',  # mmera.utils.upstream.TESTED_RANGES
        'mmdet>=3.0.0,<3.4.0',  # idem
        'pycocotools',
        # mmengine resolves `mmdet::` config bases through pkg_resources.
        'setuptools<81',
    ],
    extras_require={
        'tests': ['pytest>=7', 'mmpretrain>=1.0.0,<1.3.0'],
        'pretrained': ['mmpretrain>=1.0.0,<1.3.0'],
    },
    # The License classifier goes with the plain ``license`` field above
    # (not a PEP 639 ``license_expression``, which setuptools rejects next
    # to it and which the setuptools of Python 3.8 does not know).
    classifiers=[
        'Development Status :: 3 - Alpha',
        'Intended Audience :: Developers',
        'Intended Audience :: Science/Research',
        'License :: OSI Approved :: Apache Software License',
        'Operating System :: OS Independent',
        'Programming Language :: Python :: 3',
        'Programming Language :: Python :: 3.8',
        'Programming Language :: Python :: 3.9',
        'Programming Language :: Python :: 3.10',
        'Programming Language :: Python :: 3.11',
        'Topic :: Scientific/Engineering :: Artificial Intelligence',
        'Topic :: Scientific/Engineering :: Image Recognition',
    ],
    zip_safe=False,
)
