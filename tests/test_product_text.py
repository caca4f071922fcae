"""The product's text speaks of the product: no README, doc, config, module,
message, Makefile comment or test name mentions how the project is developed
(numbered issues or tasks, sessions, closing notes, machines being lent).
Historic notes belong in CHANGELOG.md, in a user's terms."""
import ast
import os
import os.path as osp
import re

from cli_helpers import REPO_ROOT

#: the words of the development process, not of the product
PATTERNS = re.compile(
    r"\bissues? #?\d+|\btasks? #?\d+|\bthis session\b|\bsittings?\b|"
    r"\bwas lent\b|\bclosing notes?\b|\bthe issue\b|\bissue's\b",
    re.IGNORECASE)
#: what is scanned, repository-relative; the run records keep their origin
SCANNED = ('README.md', 'CHANGELOG.md', 'Makefile', 'docs', 'configs',
           'mmera', 'tools', 'benchmarks')
SKIPPED = ('docs/results/runs/', )
TEXT = ('.md', '.py', '.yml', '.yaml', '.sh', '.txt', '.cfg', '.toml', '.in')


def _files():
    for top in SCANNED:
        path = osp.join(REPO_ROOT, top)
        if osp.isfile(path):
            yield top
            continue
        for root, dirs, files in os.walk(path):
            dirs[:] = [d for d in dirs if d != '__pycache__'
                       and not d.startswith('.')]
            for name in files:
                rel = osp.relpath(osp.join(root, name), REPO_ROOT)
                if name.endswith(TEXT) and not rel.startswith(SKIPPED):
                    yield rel


def test_no_development_process_in_the_product_text():
    hits = []
    for rel in _files():
        with open(osp.join(REPO_ROOT, rel), errors='replace') as f:
            for n, line in enumerate(f, 1):
                m = PATTERNS.search(line)
                if m:
                    hits.append(f'{rel}:{n}: {m[0]!r}: {line.strip()[:90]}')
    assert not hits, 'say it in the product\'s terms:\n' + '\n'.join(hits)


def test_no_development_process_in_the_test_names():
    names = re.compile(r'(?<![a-z])(issue|task)_?\d+|session_?\d|sitting|'
                       r'(?<![a-z])lent(?![a-z])', re.IGNORECASE)
    hits = []
    for top in ('tests', osp.join('benchmarks', 'tests')):
        for root, dirs, files in os.walk(osp.join(REPO_ROOT, top)):
            dirs[:] = [d for d in dirs if d != '__pycache__']
            for name in files:
                if not name.endswith('.py'):
                    continue
                path = osp.join(root, name)
                rel = osp.relpath(path, REPO_ROOT)
                if names.search(name):
                    hits.append(rel)
                with open(path) as f:
                    tree = ast.parse(f.read())
                hits += [f'{rel}::{node.name}' for node in ast.walk(tree)
                         if isinstance(node, (ast.FunctionDef, ast.ClassDef))
                         and node.name.startswith(('test', 'Test'))
                         and names.search(node.name)]
    assert not hits, hits
