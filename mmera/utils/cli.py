"""Helpers shared by the command-line tools in ``tools/``."""
import os.path as osp


def check_file_exists(path: str, what: str) -> None:
    """Exits with a clear message when a file the user named is missing.

    Args:
        path: The path from the command line.
        what: What the file is, for the message (e.g. ``'config file'``).

    Raises:
        SystemExit: If ``path`` is not an existing file.
    """
    if not osp.isfile(path):
        raise SystemExit(f'error: {what} not found: {path!r} (resolved to '
                         f'{osp.abspath(path)!r}). Check the path; relative '
                         'paths are taken from the current directory.')
