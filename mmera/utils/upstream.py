"""Version guards for the places where mmera overrides upstream internals.

mmera subclasses a few upstream classes and overrides methods whose bodies
are not a public contract (mmengine's ``Runner`` start-up and checkpoint
saving, ``CheckpointHook``'s private save/delete steps, mmdet's
``FPN.forward``). Each override was written against, and tested on, the
ranges below; ``setup.py`` pins the same ranges. A component built against
another version refuses with a message naming the installed version, the
tested range and the component, rather than misbehaving silently.
"""
from importlib.metadata import PackageNotFoundError, version
from typing import Dict, Tuple

from mmengine.utils import digit_version

# package -> (lowest tested version, first version that is not tested)
TESTED_RANGES: Dict[str, Tuple[str, str]] = {
    'mmengine': ('0.10.0', '0.11.0'),
    'mmdet': ('3.0.0', '3.4.0'),
}


def check_tested_version(package: str, component: str) -> None:
    """Raises if ``package`` is outside the range ``component`` was tested on.

    Args:
        package: ``'mmengine'`` or ``'mmdet'`` (a key of
            :data:`TESTED_RANGES`).
        component: What overrides the package's internals, for the message
            (e.g. ``'MMERARunner (Runner.setup_env, wrap_model)'``).

    Raises:
        RuntimeError: If the installed version is outside the tested range.
    """
    low, high = TESTED_RANGES[package]
    try:
        installed = version(package)
    except PackageNotFoundError:  # e.g. a source checkout on sys.path
        installed = __import__(package).__version__
    if not digit_version(low) <= digit_version(installed) < digit_version(
            high):
        raise RuntimeError(
            f'{component} overrides internals of {package} and was tested on '
            f'{package}>={low},<{high}; {package} {installed} is installed. '
            f'Install a tested version (pip install "{package}>={low},<{high}"'
            ') or check the override against this version and widen '
            'mmera.utils.upstream.TESTED_RANGES and setup.py together.')
