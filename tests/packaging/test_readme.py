"""The README works from a clone: every document it points to is in the repository, and it says
what a newcomer needs (how long the tests take and what they install, how to stop the server,
every step of the wizard)."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def test_every_document_the_readme_points_to_is_in_the_repository():
    links = re.findall(r"\]\(([^)#]+)\)", README)                       # [text](path)
    mentioned = re.findall(r"`([\w./-]+\.md)`", README)                 # `some/FILE.md`
    assert "docs/DESIGN.md" in links
    for target in links + mentioned:
        if "://" in target:
            continue
        path = (ROOT / target).resolve()
        assert path.is_file() and ROOT in path.parents, f"the README points to {target}, not in the repository"


def test_the_design_document_is_self_contained():
    design = (ROOT / "docs" / "DESIGN.md").read_text()
    assert "../shared" not in design and "## Decisions" in design


def test_the_readme_says_what_a_newcomer_needs():
    assert "Ctrl-C" in README                                            # how to stop `make run`
    assert re.search(r"`make test` takes about \d+ minutes", README)
    assert "apt-get" in README and "root" in README and "chromium" in README
    assert "bridges" in README.lower().split("## letting the family in")[0]  # the wizard's steps
    assert "registration-token list" in README and "registration-token revoke" in README
