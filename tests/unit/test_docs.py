"""The README and docs/ hold together: every relative link reaches a file and, with a `#fragment`,
a heading of it (GitHub's anchors); the README stays short and opens with its two commands; and
`python -m bench.readme` writes its generated tables into docs/performance.md."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

import bench.readme

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
README_MAX_BYTES = 12_000

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1")
INLINE_LINK = re.compile(
    r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+\"[^\"]*\")?\s*\)"
)
REFERENCE = re.compile(r"^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)")
HTML_ANCHOR = re.compile(r"<a\s+(?:[^>]*\s)?(?:id|name)=\"([^\"]+)\"", re.IGNORECASE)
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
LINE_ANCHOR = re.compile(r"^L\d+(?:-L\d+)?$")


def documents() -> list[Path]:
    return [README, *sorted((ROOT / "docs").glob("*.md"))]


def outside_fences(text: str) -> Iterator[str]:
    """The lines of `text` outside fenced code blocks."""
    fence = ""
    for line in text.splitlines():
        opening = FENCE.match(line)
        if fence:
            if opening and opening.group(1)[0] == fence[0] and len(opening.group(1)) >= len(fence):
                fence = ""
        elif opening:
            fence = opening.group(1)
        else:
            yield line


def prose_lines(text: str) -> list[str]:
    """The lines outside fenced code blocks, with inline code spans blanked out."""
    return [INLINE_CODE.sub(lambda m: " " * len(m.group(0)), line) for line in outside_fences(text)]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: its text, lower-cased, without punctuation, spaces → '-'."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link counts by its text
    text = re.sub(r"<[^>]+>", "", text).replace("`", "").replace("*", "")
    return re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every anchor GitHub makes for a markdown file: one per heading (a repeated one gets -1,
    -2, …) and the explicit `<a id=…>`/`<a name=…>`."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    for line in outside_fences(text):
        found.update(HTML_ANCHOR.findall(line))
        heading = HEADING.match(line)
        if heading:
            base = slug(heading.group(2))
            n = seen.get(base, 0)
            seen[base] = n + 1
            found.add(base if n == 0 else f"{base}-{n}")
    return found


def links(text: str) -> list[str]:
    targets = []
    for line in prose_lines(text):
        targets += INLINE_LINK.findall(line)
        targets += REFERENCE.findall(line)
    return [t[1:-1] if t.startswith("<") else t for t in targets]


def broken_links(document: Path) -> list[str]:
    """`document: target (why)` for each relative link that leads nowhere."""
    broken = []
    for target in links(document.read_text()):
        if SCHEME.match(target) or target.startswith("//"):
            continue  # another site: not checked here
        path_part, _, fragment = target.partition("#")
        path = (document.parent / unquote(path_part)).resolve() if path_part else document
        if not path.exists():
            broken.append(f"{document.name}: {target} (no such file)")
        elif fragment:
            if path.suffix.lower() == ".md":
                if unquote(fragment) not in anchors(path.read_text()):
                    broken.append(f"{document.name}: {target} (no such heading)")
            elif path.is_dir() or not LINE_ANCHOR.match(fragment):
                broken.append(f"{document.name}: {target} (no such anchor)")
    return broken


# --- the repository's own documents ---------------------------------------------------------------


@pytest.mark.parametrize("document", documents(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_reaches_a_file_and_heading(document: Path):
    assert not broken_links(document)


def test_the_docs_are_all_checked():
    names = {str(p.relative_to(ROOT)) for p in documents()}
    for expected in (
        "README.md",
        "docs/architecture.md",
        "docs/performance.md",
        "docs/mutation.md",
    ):
        assert expected in names


def test_readme_stays_under_12000_bytes():
    size = len(README.read_bytes())
    assert size < README_MAX_BYTES, f"README.md is {size:,} bytes: move detail into docs/"


def test_readme_opens_with_make_run_and_make_test():
    lines = [line for line in README.read_text().splitlines() if line.strip()]
    assert lines[0].startswith("# ")  # the title
    assert re.fullmatch(r"```\w*", lines[1]), "the first thing under the title is a code block"
    assert lines[2].startswith("make run")
    assert lines[3].startswith("make test")
    assert lines[4] == "```"


def test_readme_links_every_page_of_docs():
    linked = {
        (README.parent / t.partition("#")[0]).resolve()
        for t in links(README.read_text())
        if not SCHEME.match(t)
    }
    unlinked = [p.name for p in sorted((ROOT / "docs").glob("*.md")) if p.resolve() not in linked]
    assert not unlinked, f"pages of docs/ the README does not link: {unlinked}"


# --- the checker itself ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("heading", "expected"),
    [
        ("What we refuse, and why", "what-we-refuse-and-why"),
        ("The local stack (`make run`)", "the-local-stack-make-run"),
        ("GoHighLevel → CallTools contact sync", "gohighlevel--calltools-contact-sync"),
        ("ReportBatchItemFailures (optional)", "reportbatchitemfailures-optional"),
        (
            "Which events are trusted as delivered, which re-read GHL",
            "which-events-are-trusted-as-delivered-which-re-read-ghl",
        ),
        ("See [the docs](docs/x.md) *now*", "see-the-docs-now"),
        ("snake_case and 3.13", "snake_case-and-313"),
    ],
)
def test_slugs_are_githubs(heading: str, expected: str):
    assert slug(heading) == expected


def test_repeated_headings_and_code_blocks():
    text = '# A\n\n## Setup\n\n```sh\n# not a heading\n```\n\n## Setup\n\n<a id="here"></a>\n'
    assert anchors(text) == {"a", "setup", "setup-1", "here"}


def test_the_checker_finds_what_is_broken_and_passes_the_rest(tmp_path: Path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "other.md").write_text("# Other\n\n## Part two\n")
    (tmp_path / "code.py").write_text("x = 1\n")
    doc = tmp_path / "README.md"
    doc.write_text(
        "# Top\n\n"
        "[ok](docs/other.md) [ok](docs/other.md#part-two) [ok](#top) [ok](code.py#L1)\n"
        "[web](https://example.com/missing#x) [mail](mailto:a@example.com)\n"
        "`[in code](missing.md)`\n\n```\n[in a block](missing.md)\n```\n"
        "[gone](docs/missing.md) [no part](docs/other.md#part-three) [here](#nowhere)\n"
        "[ref]: docs/absent.md\n"
    )
    assert broken_links(doc) == [
        "README.md: docs/missing.md (no such file)",
        "README.md: docs/other.md#part-three (no such heading)",
        "README.md: #nowhere (no such heading)",
        "README.md: docs/absent.md (no such file)",
    ]


# --- the generated tables -------------------------------------------------------------------------

PERFORMANCE = ROOT / "docs" / "performance.md"
MARKERS = [
    (bench.readme.BEGIN, bench.readme.END),
    (bench.readme.CHAOS_BEGIN, bench.readme.CHAOS_END),
]


def test_bench_readme_writes_docs_performance():
    assert bench.readme.PERFORMANCE == PERFORMANCE


@pytest.mark.parametrize(("begin", "end"), MARKERS)
def test_the_generated_blocks_are_in_docs_performance_only(begin: str, end: str):
    text = PERFORMANCE.read_text()
    assert text.count(begin) == 1 and text.count(end) == 1
    assert text.index(begin) < text.index(end)
    for other in documents():
        if other != PERFORMANCE:
            assert begin not in other.read_text(), other.name


def _chaos_run(kills: int) -> dict[str, Any]:
    return {
        "contacts": 40,
        "deliveries": 260,
        "duplicated_share": 0.3,
        "reordered_share": 0.5,
        "calltools_calls": 90,
        "calltools_faults": {"timeout": 2},
        "ghl_calls": 70,
        "ghl_faults": {"429": 3},
        "kills": {"after save": kills},
        "failed_invocations": kills,
        "dead_lettered": 1,
        "wall_seconds": 60.0,
        "seed": 7,
        "deferred": 4,
    }


def test_bench_readme_replaces_only_the_blocks_it_has_figures_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    page = tmp_path / "performance.md"
    before = f"# Performance\n\nText.\n\n{bench.readme.BEGIN}\nold bench\n{bench.readme.END}\n\n"
    page.write_text(
        f"{before}Between.\n\n{bench.readme.CHAOS_BEGIN}\nold chaos\n{bench.readme.CHAOS_END}\n\nAfter.\n"
    )
    chaos = tmp_path / "chaos.json"
    runs = {
        "report_batch_item_failures=False": _chaos_run(2),
        "report_batch_item_failures=True": _chaos_run(3),
    }
    chaos.write_text(json.dumps(runs))
    monkeypatch.setattr(bench.readme, "PERFORMANCE", page)
    monkeypatch.setattr(bench.readme, "CHAOS", chaos)
    monkeypatch.setattr(bench.readme, "RESULTS", tmp_path / "no-results.json")

    bench.readme.main()

    text = page.read_text()
    assert text.startswith(before + "Between.\n\n")  # no results.json: the bench block stays
    assert text.endswith(f"{bench.readme.CHAOS_END}\n\nAfter.\n")
    assert "old chaos" not in text
    assert "| without it | 40 | 260 (30%, 50%) |" in text
    assert "Kill points hit (both runs): after save 5." in text


def test_the_readme_holds_the_headline_block_once():
    text = (ROOT / "README.md").read_text()
    begin, end = bench.readme.HEADLINE_BEGIN, bench.readme.HEADLINE_END
    assert text.count(begin) == 1 and text.count(end) == 1 and text.index(begin) < text.index(end)


def test_the_headline_picks_the_rows_it_names_with_their_goals():
    def scenario(name: str, *rows: tuple[str, str, str, bool | None]) -> dict[str, Any]:
        return {
            "name": name,
            "title": name.title(),
            "rows": [{"measure": m, "ours": o, "goal": g, "met": met} for m, o, g, met in rows],
        }

    results = {
        "started_at": "2026-11-29T12:00:00+00:00",
        "machine": {"nproc": 2},
        "scenarios": [
            scenario(
                "firstimport",
                ("GHL calls per contact", "0.002", "≤ 0.01", True),
                ("hits re-read from GHL one by one", "0", "", None),
            ),
            scenario("footprint", ("import app (median of 15 runs)", "420 ms", "≤ 300 ms", False)),
        ],
    }
    block = bench.readme.headline(results)
    assert "| Firstimport: GHL calls per contact | 0.002 | ≤ 0.01 | yes |" in block
    assert "| Footprint: import app (median of 15 runs) | 420 ms | ≤ 300 ms | **no** |" in block
    assert "re-read" not in block  # not a headline row
