"""Sample values without float noise, in the form prometheus_client writes and every reader accepts."""

from __future__ import annotations

import math
import random
import subprocess

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.utils import floatToGoString  # the reference here only; the exporter never imports it

from factorydash.floattext import float_text
from tests.conftest import require_program


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.1 + 0.37, "0.47"),
        (0.1 + 0.2, "0.3"),
        (1.1 * 3, "3.3"),
        (100 * 1.1, "110.0"),
        (0.47000000000000003, "0.47"),
        (1 / 3, "0.333333333333333"),
        (2 / 3 * 100, "66.6666666666667"),
        (12345678.900000001, "1.23456789e+07"),
        (1_733_620_250.25, "1.73362025025e+09"),
        (2**53 + 0.0, "9.007199254740992e+15"),  # integers stay exact
        (10**20, "1e+20"),
        (10**400, "+Inf"),  # an agent's integer beyond float range
        (-(10**400), "-Inf"),
        (math.inf, "+Inf"),
        (-math.inf, "-Inf"),
        (math.nan, "NaN"),
        (-0.0, "-0.0"),
        (5, "5.0"),
        (-12345678.5, "-12345678.5"),
        (1e-7 + 2e-7, "3e-07"),
    ],
)
def test_noise_is_gone_and_the_form_is_prometheus_clients(value: float, text: str) -> None:
    assert float_text(value) == text


def clean_values(count: int) -> list[float]:
    """Values as an agent sends them or a person types them: at most 15 significant digits."""
    rng = random.Random(7)
    values = []
    for _ in range(count):
        digits = rng.randint(1, 15)
        mantissa = rng.randint(0, 10**digits - 1) * rng.choice((1, -1))
        values.append(float(f"{mantissa}e{rng.randint(-12, 12)}"))
    return values


def test_clean_values_are_written_exactly_as_prometheus_client_writes_them() -> None:
    values = clean_values(20_000) + [0.0, 1.0, 1e7, 9999999.0, 1234567.5, 0.001, 1e-5, 1e16, 1e22, 255.0, 0.5]
    different = [(value, float_text(value), floatToGoString(value)) for value in values if float_text(value) != floatToGoString(value)]
    assert different == []


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_any_value_is_prometheus_clients_text_of_the_value_rounded_to_15_digits(value: float) -> None:
    text = float_text(value)
    rounded = value if value.is_integer() else float(f"{value:.15g}")
    assert text == floatToGoString(rounded)
    assert math.isclose(float(text), value, rel_tol=1e-14, abs_tol=0.0)
    assert float_text(float(text)) == text  # stable: reading and writing again changes nothing


@pytest.mark.integration
def test_prometheus_clients_parser_and_promtool_read_every_form() -> None:
    values = clean_values(300) + [0.1 + 0.37, 12345678.900000001, 10**400, math.nan, -math.inf, 1e-300, 2**53 + 0.0]
    lines = [f'm{{i="{index}"}} {float_text(value)}' for index, value in enumerate(values)]
    exposition = "# HELP m values.\n# TYPE m gauge\n" + "\n".join(lines) + "\n"
    parsed = [sample.value for family in text_string_to_metric_families(exposition) for sample in family.samples]
    assert [float_text(value) for value in parsed] == [float_text(value) for value in values]
    promtool = require_program("promtool")
    result = subprocess.run([promtool, "check", "metrics"], input=exposition.encode(), capture_output=True, timeout=30)
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()


def test_the_exporter_no_longer_reaches_into_prometheus_client_utils() -> None:
    from tests.conftest import ROOT

    sources = (ROOT / "exporter" / "factorydash").rglob("*.py")
    assert [path.name for path in sources if "prometheus_client.utils" in path.read_text()] == []
