"""core/metrics.py: histograms, quantiles and the Prometheus text format, read back by
Prometheus' own parser (prometheus_client, a test dependency) so that a scrape would accept it."""
from __future__ import annotations

import math

import pytest
from prometheus_client.parser import text_string_to_metric_families

from appliance.core.metrics import Family, Histogram, RequestMetrics, exposition, gauge


def parsed(text: str) -> dict:
    return {f.name: f for f in text_string_to_metric_families(text)}


def test_histogram_buckets_are_cumulative_and_end_with_inf():
    h = Histogram((0.1, 1.0))
    for v in (0.05, 0.1, 0.5, 2.0):
        h.observe(v)
    assert h.cumulative() == [(0.1, 2), (1.0, 3), (math.inf, 4)]  # a value on a bound is in that bucket
    assert (h.count, h.sum) == (4, pytest.approx(2.65))


def test_quantile_is_the_bound_of_the_bucket_holding_it():
    h = Histogram((0.001, 0.01, 0.1))
    assert h.quantile(0.99) is None
    for _ in range(98):
        h.observe(0.0005)
    h.observe(0.05)
    h.observe(5.0)
    assert h.quantile(0.5) == 0.001
    assert h.quantile(0.99) == 0.1
    assert h.quantile(1.0) == math.inf


def test_bounds_must_increase():
    with pytest.raises(ValueError):
        Histogram((1.0, 0.5))
    with pytest.raises(ValueError):
        Histogram(())


def test_exposition_is_read_back_by_prometheus_parser():
    requests = RequestMetrics()
    requests.record("GET", "/_matrix/client/v3/sync", 200, 0.02)
    requests.record("GET", "/_matrix/client/v3/sync", 200, 3.0)
    requests.record("PUT", '/odd"route\\with\nnewline', 500, 0.001)
    text = exposition([gauge("hearth_stream_position", "The stream's position.", 42),
                       gauge("hearth_unknown", "Not known here.", None),
                       *requests.families()])
    families = parsed(text)
    assert families["hearth_stream_position"].samples[0].value == 42
    assert families["hearth_unknown"].samples == []
    responses = {(s.labels["method"], s.labels["route"], s.labels["status"]): s.value
                 for s in families["hearth_http_responses"].samples}  # the parser drops _total
    assert responses == {("GET", "/_matrix/client/v3/sync", "2xx"): 2, ("PUT", '/odd"route\\with\nnewline', "5xx"): 1}
    duration = families["hearth_http_request_duration_seconds"]
    sync = [s for s in duration.samples if s.labels.get("route") == "/_matrix/client/v3/sync"]
    buckets = {s.labels["le"]: s.value for s in sync if s.name.endswith("_bucket")}
    assert buckets["0.025"] == 1 and buckets["2.5"] == 1 and buckets["5.0"] == 2 and buckets["+Inf"] == 2
    assert [s.value for s in sync if s.name.endswith("_count")] == [2]
    assert requests.errors() == 1 and requests.total() == 3


def test_a_family_given_twice_is_refused():
    with pytest.raises(ValueError):
        exposition([Family("x", "gauge", "x").add(1), Family("x", "gauge", "x").add(2)])


def test_help_text_is_escaped():
    text = exposition([gauge("hearth_x", "a \\ b\nc", 1)])
    assert "# HELP hearth_x a \\\\ b\\nc" in text
    assert parsed(text)["hearth_x"].documentation == "a \\ b\nc"
