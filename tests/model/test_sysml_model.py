"""The exporter's tables against the MTConnect SysML model (PyPI `pymtconnect`, generated from it).

Every controlled vocabulary, numeric, true/false and vector EVENT type and unit of the model is handled by
factorydash.vocabularies / factorydash.units or listed in NOT_EXPORTED with its reason; a failure names
each model entry that is not.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from factorydash import units, vocabularies
from tests.model.sysml import Model, Tables, check, load_model

EXPORTER = Path(__file__).resolve().parents[2] / "exporter"


@pytest.fixture(scope="module")
def model() -> Model:
    return load_model()


def exporter_tables() -> Tables:
    return Tables(
        vocabularies=vocabularies.CLOSED_VOCABULARIES,
        subtype_vocabularies=vocabularies.SUBTYPE_VOCABULARIES,
        numeric_types=vocabularies.NUMERIC_EVENT_TYPES,
        vector_types=vocabularies.VECTOR_EVENT_TYPES,
        units=units.UNITS,
        not_exported=vocabularies.NOT_EXPORTED,
    )


def test_every_vocabulary_numeric_type_and_unit_of_the_model_is_handled_or_listed_with_a_reason(model: Model) -> None:
    assert check(model, exporter_tables()) == []


def test_the_model_is_read_as_the_standard_writes_it(model: Model) -> None:
    # Facts from the MTConnect standard (Part 3, and the client notes section 7), not from the loader.
    assert model.vocabularies[("EXECUTION", "")] == {
        "READY", "ACTIVE", "INTERRUPTED", "FEED_HOLD", "STOPPED", "OPTIONAL_STOP", "PROGRAM_STOPPED",
        "PROGRAM_COMPLETED", "WAIT", "PROGRAM_OPTIONAL_STOP",
    }  # fmt: skip
    assert model.vocabularies[("EMERGENCY_STOP", "")] == {"ARMED", "TRIGGERED"}
    assert model.vocabularies[("CLOSE_DOOR", "RESPONSE")] == {"NOT_READY", "READY", "ACTIVE", "COMPLETE", "FAIL"}
    assert model.vocabularies[("COMPOSITION_STATE", "VERTICAL")] == {"UP", "DOWN", "TRANSITIONING"}
    assert {("PART_COUNT", ""), ("TRANSFER_COUNT", ""), ("ASSET_COUNT", ""), ("LINE_NUMBER", "")} <= model.numbers
    assert ("PALLET_ID", "") not in model.numbers and ("PROGRAM", "") not in model.numbers
    assert model.vectors == {("ROTATION", ""), ("TRANSLATION", "")}  # ACTIVE_AXES is a list of names
    assert {"MILLIMETER/SECOND^2", "METER/SECOND^2", "REVOLUTION/MINUTE", "NEWTON_METER"} <= model.units
    assert len(model.vocabularies) == 68 and len(model.units) == 53


# One removal per table; each must be reported by the check, naming what is no longer handled.
REMOVALS = {
    "a vocabulary": (
        lambda t: dataclasses.replace(t, vocabularies=_without(t.vocabularies, "BATTERY_STATE")),
        "vocabulary BATTERY_STATE is not handled: CHARGED, CHARGING, DISCHARGED, DISCHARGING",
    ),
    "a value of a vocabulary": (
        lambda t: dataclasses.replace(
            t, vocabularies={**t.vocabularies, "EXECUTION": tuple(v for v in t.vocabularies["EXECUTION"] if v != "WAIT")}
        ),
        "vocabulary EXECUTION lacks WAIT",
    ),
    "a subType vocabulary": (
        lambda t: dataclasses.replace(
            t, subtype_vocabularies=_without(t.subtype_vocabularies, ("OPEN_DOOR", "REQUEST"))
        ),
        "vocabulary OPEN_DOOR (subType REQUEST) is not handled: ACTIVE, FAIL, NOT_READY, READY",
    ),
    "a numeric EVENT type": (
        lambda t: dataclasses.replace(t, numeric_types=t.numeric_types - {"TRANSFER_COUNT"}),
        "numeric EVENT type TRANSFER_COUNT is not handled",
    ),
    "a vector EVENT type": (
        lambda t: dataclasses.replace(t, vector_types=t.vector_types - {"ROTATION"}),
        "vector EVENT type ROTATION is not handled",
    ),
    "a unit": (
        lambda t: dataclasses.replace(t, units=_without(t.units, "METER/SECOND^2")),
        "unit METER/SECOND^2 is not handled",
    ),
    "a deliberately not exported type": (
        lambda t: dataclasses.replace(t, not_exported=_without(t.not_exported, ("NETWORK_PORT", ""))),
        "numeric EVENT type NETWORK_PORT is not handled",
    ),
    "a deliberately not exported subType": (
        lambda t: dataclasses.replace(t, not_exported=_without(t.not_exported, ("SENSOR_STATE", "BINARY"))),
        "true/false EVENT type SENSOR_STATE (subType BINARY) is not handled",
    ),
}


def _without(table, key):
    return {name: value for name, value in table.items() if name != key}


@pytest.mark.parametrize("removal", REMOVALS, ids=str)
def test_the_check_reports_an_entry_removed_from_a_table(model: Model, removal: str) -> None:
    remove, expected = REMOVALS[removal]
    assert check(model, remove(exporter_tables())) == [expected]


def test_a_stale_not_exported_entry_is_reported(model: Model) -> None:
    tables = dataclasses.replace(
        exporter_tables(), not_exported={**vocabularies.NOT_EXPORTED, ("NO_SUCH_TYPE", ""): "why"}
    )
    assert check(model, tables) == ["NOT_EXPORTED lists NO_SUCH_TYPE, which the model does not define"]


def test_numbers_beyond_the_model_are_really_beyond_it_and_keep_their_reason(model: Model) -> None:
    # A type the model makes numeric must not hide in NUMERIC_BEYOND_MODEL with a stale reason.
    for kind, reason in vocabularies.NUMERIC_BEYOND_MODEL.items():
        assert (kind, "") not in model.numbers, kind
        assert reason
    assert "PALLET_ID" not in vocabularies.NUMERIC_EVENT_TYPES  # the model gives it no numeric result


def test_deprecated_values_real_controllers_still_send_stay_in_the_tables() -> None:
    assert "PROGRAM_OPTIONAL_STOP" in vocabularies.CLOSED_VOCABULARIES["EXECUTION"]
    assert "FEED_HOLD" in vocabularies.CLOSED_VOCABULARIES["CONTROLLER_MODE"]
    assert {"LINE", "SPINDLE_SPEED_OVERRIDE"} <= vocabularies.NUMERIC_EVENT_TYPES
    assert {"KILOWATT_HOUR", "LITER/MINUTE", "REVOLUTION/SECOND"} <= set(units.UNITS)


def test_the_exporter_never_imports_the_model_package() -> None:
    offenders = [str(path) for path in EXPORTER.rglob("*.py") if "pymtconnect" in path.read_text()]
    assert offenders == []
