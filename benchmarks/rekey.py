"""Re-keys the records of configs that came to state the defaults they ran
with.

A record is keyed by its config as mmengine resolves it
(:func:`benchmarks.run_records.config_sha256`), not by the code. A distiller
config that leaves an option to its class default keeps its key when that
default changes, so its records would stand for runs of another meaning.
Stating the option fixes that, but changes the key although the run's
meaning did not. This tool checks that the only change between the committed
config (``HEAD``) and the working tree is options added at the value their
class defaults to, then writes the new key into the records that had the old
one. A record holds no version of the code, so the tool trusts that the
defaults it reads (the committed package's: it refuses to run while
``mmera/`` has uncommitted changes) are the ones the runs had:

    # 1. state the defaults in the configs (the code's defaults unchanged)
    # 2. python -m benchmarks.rekey configs/era/era_*.py ...
    # 3. commit configs and records together; then change the defaults

:func:`unstated_options` lists what a distiller config leaves to defaults.
"""
import argparse
import inspect
import json
import os.path as osp
import subprocess
import tempfile
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .paths import REPO_ROOT, repo_path
from .run_records import (
    RECORDS_DIR,
    config_sha256,
    records_of,
    resolved_config,
    write_record,
)

#: options of an option dict: (distiller type, option) -> the class that
#: takes the dict (its keyword defaults apply inside it)
NESTED = {('ERADistiller', 'mbrnet'): 'mmera.models.era.mbrnet.MBRNet'}
#: a distiller's constructor arguments that are not options of a run's
#: meaning (it takes the student's)
NOT_OPTIONS = ('data_preprocessor', 'init_cfg')
_MISSING = object()


def _class(path: str) -> type:
    module, name = path.rsplit('.', 1)
    return getattr(__import__(module, fromlist=[name]), name)


def class_defaults(cls: type, skip: Sequence[str] = ()) -> Dict[str, Any]:
    """``cls``'s keyword defaults (its ``__init__``'s) but ``skip``."""
    params = inspect.signature(cls.__init__).parameters
    return {n: p.default for n, p in params.items()
            if p.default is not inspect.Parameter.empty and n not in skip}


def option_defaults(model: dict) -> Dict[Tuple[str, ...], Any]:
    """``path -> default`` of every option a distiller config's ``model``
    can state (its nested option dicts included); empty for a detector
    that is not a distiller."""
    import mmera  # noqa: F401 (registers the distillers)
    from mmera.models.common.base_distiller import BaseDistiller
    from mmera.registry import MODELS
    cls = MODELS.get(model.get('type', ''))
    if cls is None or not issubclass(cls, BaseDistiller):
        return {}
    out = {(n, ): v for n, v in class_defaults(cls, NOT_OPTIONS).items()}
    for (owner, option), nested in NESTED.items():
        if owner == model['type']:  # stated or not, its options count
            out.update({(option, n): v for n, v in class_defaults(
                _class(nested)).items()})
    return out


def unstated_options(model: dict) -> List[str]:
    """The options a distiller config's ``model`` leaves to defaults
    (``'mbrnet.bottleneck_channels'`` for a nested one)."""
    def stated(path: Tuple[str, ...]) -> bool:
        node = model
        for part in path:
            if not isinstance(node, dict) or part not in node:
                return False
            node = node[part]
        return True
    # an option dict left out or None leaves each of its options unstated
    return sorted('.'.join(p) for p in option_defaults(model)
                  if not stated(p))


def _changes(old: Any, new: Any, path: Tuple[str, ...] = ()
             ) -> List[Tuple[Tuple[str, ...], Any, Any]]:
    """``(path, old, new)`` of every difference, at the shallowest key
    where it starts (``_MISSING`` for an absent key)."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new)):
            out += _changes(old.get(key, _MISSING), new.get(key, _MISSING),
                            path + (key, ))
        return out
    return [] if old == new else [(path, old, new)]


def added_defaults(old: dict, new: dict) -> List[str]:
    """The options ``new`` (a resolved config) states that ``old`` left to
    their defaults.

    Raises:
        ValueError: For any other difference (it names the key): a changed
            value, a removed key, or an added option away from its default.
    """
    defaults = option_defaults(new.get('model', {}))
    added = []
    for path, before, after in _changes(old, new):
        name = '.'.join(path)
        option = path[1:] if path[:1] == ('model', ) else None
        if before is not _MISSING:
            raise ValueError(f'{name} changed ({before!r} -> {after!r}): '
                             'only added defaults keep a run its meaning')
        if option not in defaults or defaults[option] != after:
            raise ValueError(
                f'{name} = {after!r} is not an option at its default '
                f'({defaults.get(option, "no such option")!r})')
        added.append(name[len('model.'):])
    return added


def rekey_records(config: str, old_sha: str, new_sha: str,
                  added: Sequence[str], records_dir: str = RECORDS_DIR
                  ) -> List[str]:
    """Writes ``new_sha`` into the records of ``config`` keyed by
    ``old_sha`` (their source says why); returns their paths."""
    done = []
    for _, path, record in records_of(config, records_dir):
        key = record['key']
        if key.get('config_sha256') != old_sha:
            continue
        done.append(write_record(
            records_dir, osp.splitext(osp.basename(path))[0],
            dict(key, config_sha256=new_sha), record.get('run', {}),
            record.get('curves', {}),
            source=f"{record.get('source', '')}; re-keyed when its config "
            f"came to state the defaults it ran with ({', '.join(added)})"))
    return done


def _committed_configs(root: str) -> str:
    """Extracts ``HEAD``'s ``configs/`` into a new folder under ``root``."""
    folder = tempfile.mkdtemp(dir=root)
    archive = subprocess.run(['git', 'archive', 'HEAD', 'configs'],
                             cwd=REPO_ROOT, check=True, capture_output=True)
    subprocess.run(['tar', '-x', '-C', folder], input=archive.stdout,
                   check=True)
    return folder


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Re-keys the records of each config named (repository-relative)."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('configs', nargs='+')
    parser.add_argument('--records-dir', default=RECORDS_DIR)
    args = parser.parse_args(argv)
    if subprocess.run(['git', 'diff', '--quiet', 'HEAD', '--', 'mmera'],
                      cwd=REPO_ROOT).returncode:
        raise SystemExit('mmera/ has uncommitted changes: the defaults the '
                         'records ran with are the committed ones; commit or '
                         'stash the package first.')
    with tempfile.TemporaryDirectory() as tmp:
        committed = _committed_configs(tmp)
        for config in args.configs:
            config = osp.relpath(osp.abspath(config), REPO_ROOT)
            old_path = osp.join(committed, config)
            old_sha = config_sha256(old_path, committed)
            try:
                added = added_defaults(
                    json.loads(resolved_config(old_path, committed)),
                    json.loads(resolved_config(repo_path(config))))
            except ValueError as e:
                raise SystemExit(f'{config}: {e}')
            new_sha = config_sha256(repo_path(config))
            done = rekey_records(config, old_sha, new_sha, added,
                                 args.records_dir) if added else []
            print(f'{config}: {len(added)} default(s) stated, '
                  f'{len(done)} record(s) re-keyed')


if __name__ == '__main__':
    main()
