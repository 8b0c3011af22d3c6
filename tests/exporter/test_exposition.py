"""Our text exposition writer against prometheus_client's, on any family either could be given.

The exporter writes the format itself (pacemaker_exporter/exposition.py) so that serving needs no
client library; the golden expositions prove the output unchanged on the real states, and this
proves it on everything else: any names, help texts, label values (quotes, backslashes, newlines,
non-ASCII) and values (integers, fractions, huge, tiny, negative, infinities, NaN).
"""

from __future__ import annotations

import math
from typing import Dict, List, Tuple

from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import CollectorRegistry
from prometheus_client.utils import floatToGoString

from pacemaker_exporter.exposition import COUNTER, GAUGE, MetricFamily, format_value, render_text

NAMES = st.from_regex(r"\A[a-z][a-z0-9_]{0,20}\Z")
VALUES = st.floats(allow_nan=True, allow_infinity=True) | st.integers(-(2**62), 2**62).map(float)
LABEL_VALUES = st.text(max_size=12)


@st.composite
def families(draw: st.DrawFn) -> List[Tuple[str, str, str, Tuple[str, ...], Dict[Tuple[str, ...], float]]]:
    out = []
    used = set()
    for _ in range(draw(st.integers(1, 4))):
        base = draw(NAMES.filter(lambda n: not n.endswith("_total") and n not in used))
        used.add(base)
        type_ = draw(st.sampled_from((GAUGE, COUNTER)))
        labels = tuple(draw(st.lists(NAMES.filter(lambda n: not n.startswith("__")), max_size=4, unique=True)))
        series = draw(st.dictionaries(st.tuples(*[LABEL_VALUES] * len(labels)), VALUES, max_size=5))
        out.append((base + "_total" if type_ == COUNTER else base, type_, draw(st.text(max_size=30)), labels, series))
    return out


def reference(fams: List[Tuple[str, str, str, Tuple[str, ...], Dict[Tuple[str, ...], float]]]) -> bytes:
    """The same families through prometheus_client's own classes and writer."""

    class Collector:
        def collect(self):  # type: ignore[no-untyped-def]
            for name, type_, help_, labels, series in fams:
                cls = CounterMetricFamily if type_ == COUNTER else GaugeMetricFamily
                fam = cls(name, help_, labels=labels)
                for key in sorted(series):
                    fam.add_metric(list(key), series[key])
                yield fam

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Collector())  # type: ignore[arg-type]
    return generate_latest(registry)


@settings(max_examples=300, deadline=None)
@given(families())
def test_render_text_is_prometheus_clients_output(fams) -> None:  # type: ignore[no-untyped-def]
    ours = render_text(MetricFamily.of(name, t, h, labels, series) for name, t, h, labels, series in fams)
    assert ours == reference(fams)


@given(VALUES)
def test_values_print_as_go_prints_them(value: float) -> None:
    assert format_value(value) == floatToGoString(value)


def test_values_that_differ_between_python_and_go() -> None:
    assert [format_value(v) for v in (1.0, 1732540000.0, 1e21, 0.1, -5e-324, math.inf, -math.inf)] == [
        "1.0",
        "1.73254e+09",
        "1e+21",
        "0.1",
        "-5e-324",
        "+Inf",
        "-Inf",
    ]
    assert format_value(math.nan) == "NaN"
