"""Reading a detector's ``model`` dict from a config path, ``mmdet::`` path
or dict, with an error that says what to do when the config's
``custom_imports`` cannot be imported.

mmengine imports a config's ``custom_imports`` while it parses the file.
When one of them fails (e.g. mmdet's ConvNeXt RTMDet imports
``mmpretrain.models``, which imports torchvision), mmengine's ImportError
lists ``sys.path`` and advises setting ``PYTHONPATH``; the module is usually
found, though, and it is a package that module needs that is missing or
broken. :func:`load_model_config` re-raises with the config, its
``custom_imports``, the innermost cause and the fix.
"""
import os.path as osp
from pathlib import Path
from typing import List, Optional, Union

import torch
from mmengine.config import Config, ConfigDict
from mmengine.config.utils import _get_package_and_cfg_path
from mmengine.hub import get_config
from mmengine.utils import get_installed_path

ConfigLike = Union[str, Path, dict, ConfigDict, Config]


def load_model_config(config: ConfigLike) -> ConfigDict:
    """Returns the ``model`` dict of a config path, ``mmdet::`` path or dict.

    Args:
        config: A config file path, an ``mmdet::...`` config path, a full
            config (with a ``model`` key) or a model dict (with ``type``).

    Returns:
        ConfigDict: The detector's model config.

    Raises:
        FileNotFoundError: ``config`` is a string that is neither a file nor
            an ``mmdet::...`` path.
        ImportError: The config's ``custom_imports`` cannot be imported;
            the message names the config, its ``custom_imports``, the
            innermost cause and the fix.
    """
    if isinstance(config, (str, Path)):
        path = str(config)
        if '::' not in path and not osp.isfile(path):
            raise FileNotFoundError(
                f'teacher_config {path!r} is neither a file nor an '
                '"mmdet::..." config path.')
        try:
            cfg = get_config(path) if '::' in path else Config.fromfile(path)
        except ImportError as err:
            raise ImportError(_custom_imports_message(path, err)) from err
        return cfg.model
    config = ConfigDict(config)
    return config.model if 'model' in config else config


def _config_file(path: str) -> str:
    """The file behind a config path; ``mmdet::rel`` resolves, as mmengine's
    ``get_config`` does, to ``<installed mmdet>/.mim/configs/rel``."""
    if '::' not in path:
        return path
    package, rel = _get_package_and_cfg_path(path)
    return osp.join(get_installed_path(package), '.mim', 'configs', rel)


def _custom_imports(source: str) -> Optional[List[str]]:
    """The ``custom_imports`` module names of a config file, read without
    importing them; ``None`` if the file cannot be parsed that way."""
    try:
        cfg = Config.fromfile(source, import_custom_modules=False)
    except Exception:  # noqa: BLE001
        # Only a diagnostic: never hide the original ImportError behind a
        # second, unrelated failure.
        return None
    imports = (cfg.get('custom_imports') or {}).get('imports', [])
    return [imports] if isinstance(imports, str) else list(imports)


def _root_cause(err: BaseException) -> BaseException:
    """The innermost exception of ``err``'s ``__cause__``/``__context__``
    chain: mmengine wraps the real failure (e.g. ``No module named
    'torchvision'``) in two ImportErrors of its own."""
    seen = {id(err)}
    while True:
        inner = err.__cause__ or err.__context__
        if inner is None or id(inner) in seen:
            return err
        seen.add(id(inner))
        err = inner


def _custom_imports_message(path: str, err: ImportError) -> str:
    """What :func:`load_model_config` says when loading ``path`` raised
    ``err``: the config, its ``custom_imports``, the root cause, the fix."""
    try:
        source = _config_file(path)
    except Exception:  # noqa: BLE001 (a diagnostic only, as below)
        source = path
    where = path if source == path else f'{path} ({source})'
    imports = _custom_imports(source)
    root = _root_cause(err)
    cause = f'{type(root).__name__}: {root}'
    if imports == []:  # an ImportError, but not from custom_imports
        return (f'Cannot load the model config {where}: parsing it failed '
                f'with {cause}.')
    listed = '(which could not be read)' if imports is None else repr(
        imports)
    missing = getattr(root, 'name', None) if isinstance(
        root, ModuleNotFoundError) else None
    # Is the missing module one of the custom_imports themselves (then its
    # package is not installed), or something an installed one imports?
    own = bool(missing and imports and any(
        imp == missing or imp.startswith(missing + '.') for imp in imports))
    if own:
        what = f'{missing!r} itself is not installed'
        fix = ('install the package that provides it (or put its directory '
               'on PYTHONPATH)')
    else:
        # mmengine's PYTHONPATH advice does not help here: the module is
        # found, and one of its own imports fails.
        what = ('the custom import is found, but something it imports is '
                'missing or broken')
        fix = ('install the package that module needs for your torch build '
               f'(torch {torch.__version__}), e.g. a torchvision matching '
               'your torch')
    return (f'Cannot load the model config {where}: mmengine imports its '
            f'custom_imports {listed} while parsing it, and that failed '
            f'with {cause}; {what}. Fix: {fix}, or use a teacher config '
            'without custom_imports.')
