"""The README guides and docs/ holds the references, and both stay true: the unit table lists every unit, the
README's first screen the two commands. The metric tables of docs/metrics.md are generated from
factorydash.metrics (tests/test_metrics_reference.py)."""

from __future__ import annotations

import re

from factorydash.config import parse_config
from factorydash.units import UNITS
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()
METRICS_REFERENCE = (ROOT / "docs" / "metrics.md").read_text()


def section(text: str, heading: str) -> str:
    """The body of the `## heading` section of a Markdown text, up to the next `## ` heading."""
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, f"section ## {heading} is missing"
    return match.group(1)


def test_the_unit_table_lists_every_unit_with_its_suffix_and_factor():
    table = section(METRICS_REFERENCE, "Units")
    for unit, target in UNITS.items():
        row = f"| `{unit}` | `{target.suffix or '(none)'}` | {target.scale:g} |"
        assert row in table, row


def test_the_first_screen_shows_the_two_commands_and_ci_runs_the_test_one():
    first_screen = section(README, "Quick start")
    assert "make run" in first_screen and "make test" in first_screen
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci


DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [ROOT / "README.md", *DOCS]


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(text: str) -> set[str]:
    without_code = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return {github_anchor(heading) for heading in re.findall(r"^#+ (.+)$", without_code, re.M)}


def test_the_readme_is_a_guide_of_at_most_350_lines_without_section_tags():
    assert len(README.splitlines()) <= 350
    for page in PAGES:
        assert "<!-- section:" not in page.read_text(), page.name


def test_every_reference_page_opens_with_its_title_and_what_it_is_for():
    for page in DOCS:
        title, blank, *rest = page.read_text().splitlines()
        purpose = " ".join(rest[: rest.index("")])  # the first paragraph
        assert title.startswith("# ") and blank == "", page.name
        assert purpose.endswith(".") and not purpose.startswith(("#", "|", "`", "-", "<")), page.name


def test_every_relative_link_of_the_readme_and_the_docs_leads_to_a_file_and_heading_that_exist():
    for page in PAGES:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            path, _, anchor = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            assert linked.exists(), f"{page.name}: {target}"
            if anchor and linked.suffix == ".md":
                assert anchor in anchors(linked.read_text()), f"{page.name}: {target}"


def test_the_configuration_essentials_of_the_readme_are_a_valid_config():
    example = section(README, "Configuration essentials").split("```yaml\n", 1)[1].split("```", 1)[0]
    config = parse_config(example, source="README.md")
    plan = config.planning.plan_for("hall-1", "Mill5X-01")
    assert plan.calendar is not None and plan.ideal_cycle_time == 885.0
    assert config.planning.plan_for("hall-1", "Lathe-02").quality_source == "assume_good"
