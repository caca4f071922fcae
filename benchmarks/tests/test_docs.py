"""The documentation's numbers come from the run records, and only from them.

Every generated block and every metafile's Results, regenerated from the
committed records (:mod:`benchmarks.docs`), equal what is committed; no table
of results stands outside a generated block.
"""
import os.path as osp
import re

import pytest
import yaml

from benchmarks import docs
from benchmarks.paths import REPO_ROOT
from benchmarks.suites import SUITES


@pytest.fixture(scope='module')
def generated():
    return docs.generate()


def test_committed_docs_equal_their_regeneration(generated):
    stale = [rel for rel, (old, new) in generated.items() if old != new]
    assert not stale, (f'{stale} differ from what the run records in '
                       'docs/results/runs/ give: run `make docs`')


def test_check_passes_on_the_committed_tree(capsys):
    assert docs.main(['--check']) == 0, capsys.readouterr().out


def test_the_blocks_are_where_the_docs_need_them(generated):
    names = {rel: {b[0] for b in docs.blocks_of(text)}
             for rel, (text, _) in generated.items() if rel.endswith('.md')}
    assert 'results-summary' in names['README.md']
    assert 'results-full' in names['docs/results/results.md']
    assert 'cost-steps' in names['docs/cost.md']
    for rel in names:
        parts = rel.split('/')
        if parts[0] == 'configs' and parts[2] == 'README.md':
            assert f'results-{parts[1]}' in names[rel], rel


def test_the_summary_names_every_method_of_the_main_suites(generated):
    text = generated['README.md'][1]
    begin = text.index(docs.BEGIN.format('results-summary'))
    block = text[begin:text.index(docs.END, begin)]
    for method in ('FitNet', 'PKD', 'LD', 'CrossKD', 'ERA', 'era-fast',
                   'head-initialised student', 'cost-matched student'):
        assert method in block, method
    assert '+-' in block


#: what a results table's cells look like: an mAP-like number with three
#: decimals (not a width multiplier), or a mean +- std
_RESULT_CELL = re.compile(
    r'(?<!widen )(?<![\d.])0\.\d{3}(?![\d.])|\d \+- \d')
_RESULT_HEADER = re.compile(r'\bm?AP(50)?\b|mAP|step \(ms\)|ratio to',
                            re.IGNORECASE)


def _outside_blocks(text):
    """The lines of ``text`` outside generated blocks, with their numbers."""
    inside = set()
    for _, begin, end in docs.blocks_of(text):
        inside.update(range(begin, end + 1))
    return [(i + 1, line) for i, line in enumerate(text.split('\n'))
            if i not in inside]


def test_result_tables_stand_inside_generated_blocks(generated):
    bad = []
    for rel, (text, _) in generated.items():
        if not rel.endswith('.md') or rel == 'docs/zoo_sweep.md':
            continue
        for n, line in _outside_blocks(text):
            if not line.lstrip().startswith('|'):
                continue
            if _RESULT_CELL.search(line) or (
                    re.match(r'^\s*\|\s*(method|model|variant|family)\b',
                             line) and _RESULT_HEADER.search(line)):
                bad.append(f'{rel}:{n}: {line[:100]}')
    assert not bad, ('results tables outside a generated block (generate '
                     'them from the run records, `make docs`):\n'
                     + '\n'.join(bad))


def test_the_check_finds_a_hand_edited_table(tmp_path):
    block = [docs.BEGIN.format('results-summary'), '| a hand-made table |',
             docs.END]
    (tmp_path / 'README.md').write_text('# x\n\n' + '\n'.join(block) + '\n')
    out = docs.generate(root=str(tmp_path))
    old, new = out['README.md']
    assert old != new and '| a hand-made table |' not in new
    assert docs.render_markdown(new, docs.load_results(),
                                docs.load_step_times(docs.RECORDS_DIR)) == new


def test_blocks_must_be_known_and_closed():
    with pytest.raises(KeyError, match='unknown generated block'):
        docs.render_markdown(
            f'{docs.BEGIN.format("results-nothing-such")}\n{docs.END}\n',
            {}, {})
    with pytest.raises(ValueError, match='not closed'):
        docs.blocks_of(docs.BEGIN.format('results-summary') + '\ntext\n')


_META = """Collections:
  - Name: X
Models:
  - Name: a
    Config: configs/x/a.py
    Metadata:
      Teacher: t.py
      Train Step Ratio to Student: 9.99
    Results:
      - Task: Object Detection
        Dataset: synthetic
        Metrics:
          box AP: 99.0

  # the next model
  - Name: b
    Config: configs/x/b.py
    Metadata:
      Teacher: t.py
"""


def test_metafile_results_are_rewritten_and_dropped_without_a_record():
    measured = {'configs/x/b.py': {'seeds': 2, 'dataset': 'synthetic',
                                   'box AP': 12.3, 'box AP50': 45.6,
                                   'step': 1.5}}
    text = docs.render_metafile(_META, measured)
    meta = yaml.safe_load(text)
    a, b = meta['Models']
    assert 'Results' not in a
    assert 'Train Step Ratio to Student' not in a['Metadata']
    assert b['Results'] == [dict(Task='Object Detection', Dataset='synthetic',
                                 Metrics={'box AP': 12.3, 'box AP50': 45.6})]
    assert b['Metadata']['Seeds'] == 2
    assert b['Metadata']['Train Step Ratio to Student'] == 1.5
    assert '  # the next model' in text
    assert docs.render_metafile(text, measured) == text


def test_metafiles_have_results_exactly_for_the_recorded_configs():
    measured = docs.metafile_results(docs.load_results(),
                                     docs.load_step_times(docs.RECORDS_DIR))
    for rel in docs.metafiles():
        with open(osp.join(REPO_ROOT, rel)) as f:
            models = yaml.safe_load(f)['Models']
        for model in models:
            m = measured.get(model['Config'])
            assert ('Results' in model) == (m is not None), model['Name']
            if m is not None:
                metrics = model['Results'][0]['Metrics']
                assert metrics['box AP'] == m['box AP'], model['Name']


def test_every_documented_suite_has_records():
    results = docs.load_results()
    for suite in docs.DOC_SUITES:
        assert suite in SUITES
        assert results[suite]['baseline'], suite
