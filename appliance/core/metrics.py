"""Figures for operators: counters, histograms and gauges, written in Prometheus' text format.

`/_hearth/metrics` (core/api/hearth_metrics.py) and the admin dashboard read the same figures.
The live ones are kept here, cheap enough to record on every request and every write batch:
`Histogram` (fixed buckets, cumulative on output) and `LabelledHistograms` (one histogram per
label set: per endpoint, per method). Everything else — stream positions, consumer lag, cache
sizes, memory, file sizes — is read when asked (services/metrics_report.py) and handed to
`exposition()` as `Family` values.

Recording takes no lock. The histograms are written by one thread each (the event loop, or the
database writer) and read by the event loop; a read that interleaves with a write may see a
bucket one ahead of the count, which Prometheus tolerates and the next scrape corrects.

The text format is Prometheus' exposition format 0.0.4: `# HELP` and `# TYPE` per family,
label values escaped (backslash, double quote, newline), histogram buckets cumulative with
`le` and a `+Inf` bucket equal to `_count`.
"""
from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Seconds: from a cached read (sub-millisecond) to a slow sync or a stuck request.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

Labels = tuple[tuple[str, str], ...]


class Histogram:
    """Observations in fixed buckets (upper bounds, increasing) with their count and sum."""

    __slots__ = ("bounds", "counts", "count", "sum")

    def __init__(self, bounds: Sequence[float] = LATENCY_BUCKETS):
        if list(bounds) != sorted(set(bounds)) or not bounds:
            raise ValueError("histogram bounds must be distinct and increasing")
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)  # the last one is above every bound (+Inf)
        self.count = 0
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.count += 1
        self.sum += value

    def cumulative(self) -> list[tuple[float, int]]:
        """(upper bound, observations at or below it), ending with (+inf, count)."""
        out, running = [], 0
        for bound, n in zip((*self.bounds, math.inf), self.counts):
            running += n
            out.append((bound, running))
        return out

    def quantile(self, q: float) -> float | None:
        """The upper bound of the bucket holding the q-th observation (None before any); a bound,
        not an interpolation: the dashboard says "p99 under 25 ms", not a made-up 23.7 ms."""
        if self.count == 0:
            return None
        rank = max(1, math.ceil(q * self.count))
        for bound, running in self.cumulative():
            if running >= rank:
                return bound
        return math.inf


class LabelledHistograms:
    """One histogram per label set, made on first use (label sets are few: routes × methods)."""

    def __init__(self, label_names: Sequence[str], bounds: Sequence[float] = LATENCY_BUCKETS):
        self.label_names = tuple(label_names)
        self.bounds = tuple(bounds)
        self.by_labels: dict[tuple[str, ...], Histogram] = {}

    def observe(self, values: Sequence[str], value: float) -> None:
        key = tuple(values)
        h = self.by_labels.get(key)
        if h is None:
            if len(key) != len(self.label_names):
                raise ValueError(f"expected labels {self.label_names}, got {key}")
            h = self.by_labels[key] = Histogram(self.bounds)
        h.observe(value)

    def samples(self) -> Iterable[tuple[Labels, Histogram]]:
        for key, h in sorted(self.by_labels.items()):
            yield tuple(zip(self.label_names, key)), h


@dataclass
class RequestMetrics:
    """What the HTTP layer records: time per request by method and route (the URL rule, not the
    path: a path holds room and user IDs), and answers by status class."""

    durations: LabelledHistograms = field(default_factory=lambda: LabelledHistograms(("method", "route")))
    statuses: dict[tuple[str, str, str], int] = field(default_factory=dict)  # (method, route, "2xx") → n

    def record(self, method: str, route: str, status: int, seconds: float) -> None:
        self.durations.observe((method, route), seconds)
        key = (method, route, f"{status // 100}xx")
        self.statuses[key] = self.statuses.get(key, 0) + 1

    def errors(self) -> int:
        """Answers with a 5xx status since the start."""
        return sum(n for (_m, _r, cls), n in self.statuses.items() if cls == "5xx")

    def total(self) -> int:
        return sum(self.statuses.values())

    def families(self) -> list[Family]:
        counts = Family("hearth_http_responses_total", "counter", "HTTP answers by method, route and status class.")
        for (method, route, cls), n in sorted(self.statuses.items()):
            counts.add(n, method=method, route=route, status=cls)
        durations = Family("hearth_http_request_duration_seconds", "histogram",
                           "Time from a request's arrival to its answer, by method and route.")
        for labels, h in self.durations.samples():
            durations.add_histogram(h, **dict(labels))
        return [counts, durations]


@dataclass
class Family:
    """One metric family: a name, a type (counter, gauge, histogram), its help and its samples."""

    name: str
    type: str
    help: str
    samples: list[tuple[str, Labels, float]] = field(default_factory=list)  # (suffix, labels, value)

    def add(self, value: float, **labels: str) -> Family:
        self.samples.append(("", tuple(labels.items()), value))
        return self

    def add_histogram(self, h: Histogram, **labels: str) -> Family:
        base = tuple(labels.items())
        for bound, running in h.cumulative():
            self.samples.append(("_bucket", (*base, ("le", _number(bound))), running))
        self.samples.append(("_count", base, h.count))
        self.samples.append(("_sum", base, h.sum))
        return self


def gauge(name: str, help: str, value: float | None, **labels: str) -> Family:
    """A one-sample gauge; a value that is not known (None) gives a family without samples."""
    f = Family(name, "gauge", help)
    if value is not None:
        f.add(value, **labels)
    return f


def exposition(families: Iterable[Family]) -> str:
    """The families in Prometheus' text format; a name given twice is refused (a scrape would be)."""
    lines: list[str] = []
    seen: set[str] = set()
    for f in families:
        if f.name in seen:
            raise ValueError(f"metric family {f.name} given twice")
        seen.add(f.name)
        lines.append(f"# HELP {f.name} {_escape_help(f.help)}")
        lines.append(f"# TYPE {f.name} {f.type}")
        for suffix, labels, value in f.samples:
            lines.append(f"{f.name}{suffix}{_labels(labels)} {_number(value)}")
    return "\n".join(lines) + "\n"


def _labels(labels: Labels | Mapping[str, str]) -> str:
    pairs = labels.items() if isinstance(labels, Mapping) else labels
    if not pairs:
        return ""
    return "{" + ",".join(f'{k}="{_escape_value(str(v))}"' for k, v in pairs) + "}"


def _escape_value(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape_help(v: str) -> str:
    return v.replace("\\", "\\\\").replace("\n", "\\n")


def _number(v: float) -> str:
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, int):
        return str(v)
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if math.isnan(v):
        return "NaN"
    return repr(float(v))
