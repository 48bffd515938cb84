"""Sample values as text: the shortest decimal that reads back as the value, without float noise.

Arithmetic leaves noise in the last bits (0.1 + 0.37 is 0.47000000000000003,
a ratio of two sums of seconds likewise); `repr` faithfully writes it, and a
person reading /metrics or the landing page sees 17 digits where 2 were
meant. Non-integers are therefore rounded to 15 significant digits (DBL_DIG:
every 15-digit decimal survives a round trip through a double, so nothing
the agent sent is lost) before the shortest repr is taken; integers are
written exactly. The form is the one prometheus_client writes (Go's exponent
from 1e7 on for positive values, `+Inf`, `-Inf`, `NaN`), so the exposition
is byte-for-byte what `generate_latest` would give for the rounded values,
and Prometheus, promtool and prometheus_client's parser read it. This is our
own code on purpose: prometheus_client's `utils.floatToGoString` is not part
of its public API.
"""

from __future__ import annotations

import math

SIGNIFICANT_DIGITS = 15


def float_text(value: float) -> str:
    """`value` for the text exposition; an integer beyond float range is +Inf/-Inf, never an exception."""
    try:
        number = float(value)
    except OverflowError:
        return "+Inf" if value > 0 else "-Inf"
    if math.isinf(number):
        return "+Inf" if number > 0 else "-Inf"
    if math.isnan(number):
        return "NaN"
    if not number.is_integer():
        number = float(f"{number:.{SIGNIFICANT_DIGITS}g}")
    text = repr(number)
    dot = text.find(".")
    if number > 0 and dot > 6:  # Go writes 12345678.5 as 1.23456785e+07
        mantissa = f"{text[0]}.{text[1:dot]}{text[dot + 1:]}".rstrip("0.")
        return f"{mantissa}e+{dot - 1:02d}"
    return text
