"""Every citation of the design pages in the notebooks points to a page and a section that exist in docs/."""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
CITATION = re.compile(r"docs/(\w+)\.md`?,?\s*(?:sections?\s+(\d+))?")


def _text(path: Path) -> str:
    return "\n".join("".join(cell["source"]) for cell in json.loads(path.read_text())["cells"])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_cited_pages_and_sections_exist(path):
    text = _text(path)
    for page, section in CITATION.findall(text):
        doc = ROOT / "docs" / f"{page}.md"
        assert doc.is_file(), f"{path.name} cites docs/{page}.md, which does not exist"
        if section:
            assert re.search(rf"^## {section}\. ", doc.read_text(), flags=re.M), (
                f"{path.name} cites docs/{page}.md section {section}, which has no '## {section}.' heading")
    bare = re.findall(r"(?<!docs/)\b(model|data|rellisur)\.md", text)
    assert not bare, f"{path.name} cites {bare}: cite the pages under docs/ (docs/model.md, docs/data.md)"


def test_the_model_page_says_where_each_part_comes_from():
    text = (ROOT / "docs" / "model.md").read_text()
    assert "code is not public" in text
    for tag in ("[paper]", "[LLFlow]", "[SRFlow]", "[ours]"):
        assert tag in text
    assert [int(n) for n in re.findall(r"^## (\d+)\. ", text, flags=re.M)] == list(range(1, 11))
