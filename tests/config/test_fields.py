"""Every config key is documented where it is defined, and the reference page lists it."""

from __future__ import annotations

import dataclasses

import pytest

from hpo.config.fields import SECTIONS, field_docs, markdown, reference_markdown
from hpo.config.schema import HpoConfig


@pytest.mark.parametrize("section", [*SECTIONS, "top level"])
def test_every_field_has_a_doc(section: str) -> None:
    cls = HpoConfig if section == "top level" else SECTIONS[section][0]
    docs = field_docs(cls)
    assert [d.name for d in docs] == [f.name for f in dataclasses.fields(cls)]
    undocumented = [d.name for d in docs if not d.doc]
    assert not undocumented, f"add a #: comment above {section} fields {undocumented}"


def test_the_reference_lists_every_key_with_its_default() -> None:
    page = reference_markdown()
    for key, (cls, _) in SECTIONS.items():
        assert f"## `{key}`" in page
        for doc in field_docs(cls):
            assert f"| `{doc.name}` | " in page, (key, doc.name)
    assert "| `n_trials` | `int` | `20` |" in page
    assert "| `storage` | `str \\| None` | `None` |" in page  # a pipe in a cell is escaped
    assert "## `training`" in page and "## `reference`" in page


def test_comment_markup_becomes_markdown() -> None:
    assert markdown("see :func:`hpo.x.y` and ``a: b``") == "see `hpo.x.y` and `a: b`"
