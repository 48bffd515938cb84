"""factorydash.metrics is the one list of metric families: the docs generated from it are current, and what the
exporter exposes (the golden exposition) is declared there with exactly its type, HELP and labels."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from factorydash import metrics
from tests.conftest import ROOT

GOLDEN = ROOT / "tests" / "exporter" / "golden" / "metrics.prom"
DOCUMENTS = {
    "docs/metrics.md": {f"metrics:{section}" for section in metrics.SECTIONS},
    "docs/design.md": {"metrics:contract"},
}


@pytest.mark.parametrize("document", sorted(DOCUMENTS))
def test_the_generated_metric_tables_are_current(document):
    text = (ROOT / document).read_text(encoding="utf-8")
    assert set(metrics.generated_blocks(text)) == DOCUMENTS[document]
    assert metrics.regenerate(text) == text, f"run: python -m factorydash.metrics --markdown {document}"


def test_a_stale_table_is_found_and_rewritten(tmp_path):
    document = tmp_path / "metrics.md"
    fresh = (ROOT / "docs" / "metrics.md").read_text(encoding="utf-8")
    document.write_text(fresh.replace("| `mtconnect_agent_up` | gauge |", "| `mtconnect_agent_upp` | gauge |"))
    assert metrics.main(["--check", "--markdown", str(document)]) == 1
    assert metrics.main(["--markdown", str(document)]) == 0
    assert document.read_text(encoding="utf-8") == fresh


def test_every_family_name_is_declared_once_and_follows_the_naming_rules():
    names = [family.name for family in metrics.FAMILIES]
    assert len(names) == len(set(names))
    for family in metrics.FAMILIES:
        assert family.name.startswith(("mtconnect_", "factorydash_"))
        assert family.name.endswith("_total") == (family.type == "counter"), family.name
        assert "type" not in family.all_labels and len(set(family.all_labels)) == len(family.all_labels)
        assert family.section in metrics.SECTIONS and family.help and family.doc


def golden_families():
    return list(text_string_to_metric_families(GOLDEN.read_text(encoding="utf-8")))


def test_every_family_of_the_golden_exposition_is_declared_with_its_type_help_and_labels():
    checked = set()
    for exposed in golden_families():
        if exposed.name.startswith(("process_", "python_")):
            continue
        family = metrics.family_of(exposed.name)
        assert family is not None, exposed.name
        assert exposed.type == family.type, exposed.name
        if not family.is_pattern:
            assert exposed.documentation == family.help
        required = set(metrics.DATA_ITEM_LABELS if family.data_item else ()) | set(family.labels)
        allowed = set(family.all_labels) | ({"le"} if family.type == "histogram" else set())
        for sample in exposed.samples:
            assert required <= set(sample.labels) <= allowed, (sample.name, sorted(sample.labels))
        checked.add(family.name)
    # the golden file covers every kind of family: the check above is no empty loop
    for family in (
        metrics.SAMPLE, metrics.STATE, metrics.DEVICE_TIME, metrics.DEVICE_ALARM, metrics.CONDITION_ACTIVE, metrics.PARTS,
        metrics.EVENT_INFO, metrics.ADAPTER_INFO, metrics.PERIODS["shift"].oee,
    ):
        assert family.name in checked, family.name


def test_family_of_tells_patterns_from_fixed_names():
    assert metrics.family_of("mtconnect_execution_state") is metrics.STATE
    assert metrics.family_of("mtconnect_execution_state_seconds") is metrics.STATE_SECONDS
    assert metrics.family_of("mtconnect_parts") is metrics.PARTS
    assert metrics.family_of("mtconnect_device_shift_parts") is metrics.PERIODS["shift"].parts
    assert metrics.family_of("factorydash_nonsense") is None
