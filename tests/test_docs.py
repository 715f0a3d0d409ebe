"""The guide's examples run: every ```pycon block of docs/**/*.md is a doctest
(blocks of one page share their names, in order), and the results printed in
the guide are what ssimfast returns."""

import doctest
import io
import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
PAGES = sorted(p for p in DOCS.glob("**/*.md") if "_build" not in p.parts
               and "generated" not in p.parts)
BLOCK = re.compile(r"^```pycon\n(.*?)^```", re.M | re.S)


def examples(page):
    return "\n".join(BLOCK.findall(page.read_text()))


@pytest.mark.skipif(not PAGES, reason="the documentation is not beside the tests")
@pytest.mark.parametrize("page", [p for p in PAGES if examples(p)],
                         ids=lambda p: str(p.relative_to(DOCS)))
def test_guide_examples(page):
    pytest.importorskip("skimage")  # the examples use its sample images
    test = doctest.DocTestParser().get_doctest(examples(page), {}, page.stem, str(page), 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    out = io.StringIO()
    runner.run(test, out=out.write)
    assert runner.failures == 0, out.getvalue()
    assert runner.tries > 0


def test_a_wrong_printed_result_fails():
    """The check above can fail: an example whose printed result is wrong."""
    test = doctest.DocTestParser().get_doctest(">>> 1 + 1\n3\n", {}, "wrong", "wrong", 0)
    runner = doctest.DocTestRunner()
    runner.run(test, out=lambda s: None)
    assert runner.failures == 1
