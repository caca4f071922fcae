"""Installs mmera, an MMDetection 3.x plugin for detector distillation."""
import os.path as osp

from setuptools import find_packages, setup


def read_version() -> str:
    """Reads ``__version__`` without importing mmera (its deps may be absent)."""
    scope: dict = {}
    with open(osp.join(osp.dirname(__file__), 'mmera', 'version.py')) as f:
        exec(f.read(), scope)
    return scope['__version__']


def read_readme() -> str:
    with open(osp.join(osp.dirname(__file__), 'README.md'), encoding='utf-8') as f:
        return f.read()


setup(
    name='mmera',
    version=read_version(),
    description='Knowledge distillation of object detectors for MMDetection 3.x: '
    'ERA (Expandable Residual Approximation) and related methods',
    long_description=read_readme(),
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    packages=find_packages(include=['mmera', 'mmera.*']),
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
    classifiers=[
        'Programming Language :: Python :: 3',
        'Topic :: Scientific/Engineering :: Artificial Intelligence',
    ],
    zip_safe=False,
)
