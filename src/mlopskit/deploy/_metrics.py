"""Prometheus metrics of a model server, on a private registry.

Each server owns one :class:`prometheus_client.CollectorRegistry` (never the global
default one), so two servers in one process — or a server inside an application that
exports its own metrics — never collide. The families:

- ``mlopskit_requests_total{model, variant, outcome}`` — prediction requests answered;
  ``outcome`` is ``ok``, ``client_error`` (4xx) or ``server_error`` (5xx);
- ``mlopskit_request_duration_seconds{model, variant}`` — a histogram of the time from
  the request's arrival to its answer;
- ``mlopskit_requests_in_flight`` — prediction requests being handled now;
- ``mlopskit_ready`` — 1 once every model is loaded.

With several worker processes (``serve(..., workers=N)``) the values live in
prometheus_client's multiprocess files and a scrape of any worker sums all of them.

The exposition format follows the scraper's ``Accept`` header through
``prometheus_client``'s own content negotiation (text 0.0.4 / 1.0.0 or OpenMetrics);
the Content-Type is never hard-coded (Prometheus 3 is strict about it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlopskit._optional import import_optional

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

__all__ = ["OUTCOMES", "ServerMetrics"]

OUTCOMES = ("ok", "client_error", "server_error")
# Latency buckets (seconds): sub-millisecond in-process answers up to slow batch calls.
BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)


def outcome_of(status: int) -> str:
    """The ``outcome`` label of an HTTP status code."""
    if status < 400:
        return "ok"
    return "client_error" if status < 500 else "server_error"


class ServerMetrics:
    """The request metrics of one server, on their own registry.

    Args:
        namespace: prefix of every metric name.
    """

    def __init__(self, namespace: str = "mlopskit", *, multiprocess: bool = False) -> None:
        prom = import_optional("prometheus_client", "serve", purpose="the /metrics endpoint")
        self.registry: CollectorRegistry = prom.CollectorRegistry(auto_describe=True)
        # Several worker processes: prometheus_client's multiprocess mode (values in
        # files under PROMETHEUS_MULTIPROC_DIR, summed over the workers at scrape time).
        self.multiprocess = multiprocess
        self.requests = prom.Counter(
            "requests",
            "Prediction requests answered, by model, variant and outcome.",
            ["model", "variant", "outcome"],
            namespace=namespace,
            registry=self.registry,
        )
        self.latency = prom.Histogram(
            "request_duration_seconds",
            "Time from a prediction request's arrival to its answer.",
            ["model", "variant"],
            namespace=namespace,
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.in_flight = prom.Gauge(
            "requests_in_flight",
            "Prediction requests being handled now.",
            namespace=namespace,
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.ready = prom.Gauge(
            "ready",
            "1 once every model the server answers with is loaded.",
            namespace=namespace,
            registry=self.registry,
            multiprocess_mode="livemin",
        )
        self._children: dict[tuple[str, str, str], tuple[Any, Any]] = {}

    def observe(self, model: str, variant: str, status: int, seconds: float) -> None:
        """Count one answered prediction request and record its duration."""
        key = (model, variant, outcome_of(status))
        pair = self._children.get(key)
        if pair is None:  # label lookups cost a lock each: cache the children
            pair = (self.requests.labels(*key), self.latency.labels(model, variant))
            self._children[key] = pair
        pair[0].inc()
        pair[1].observe(seconds)

    def render(self, accept: str | None) -> tuple[bytes, str]:
        """The exposition for a scraper's ``Accept`` header: ``(body, content_type)``."""
        from prometheus_client.exposition import choose_encoder

        encoder, content_type = choose_encoder(accept or "")
        if self.multiprocess:
            from prometheus_client import CollectorRegistry
            from prometheus_client.multiprocess import MultiProcessCollector

            merged = CollectorRegistry()
            MultiProcessCollector(merged)  # type: ignore[no-untyped-call]
            return encoder(merged), content_type
        return encoder(self.registry), content_type
