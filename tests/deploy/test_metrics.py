"""ServerMetrics: a private prometheus registry, outcome labels, content negotiation."""

from __future__ import annotations

import pytest

pytest.importorskip("prometheus_client")

from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from mlopskit.deploy._metrics import ServerMetrics, outcome_of


def samples(metrics: ServerMetrics, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    body, _ = metrics.render("text/plain")
    out = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            if s.name == name:
                out[tuple(sorted(s.labels.items()))] = s.value
    return out


class TestServerMetrics:
    def test_counts_by_model_variant_outcome(self) -> None:
        """Each observed request is counted once under its model, variant and outcome."""
        m = ServerMetrics()
        for status in (200, 200, 400, 404, 500):
            m.observe("churn", "canary", status, 0.002)
        m.observe("churn", "champion", 200, 0.001)
        counts = samples(m, "mlopskit_requests_total")
        key = (("model", "churn"), ("outcome", "ok"), ("variant", "canary"))
        assert counts[key] == 2
        key = (("model", "churn"), ("outcome", "client_error"), ("variant", "canary"))
        assert counts[key] == 2
        key = (("model", "churn"), ("outcome", "server_error"), ("variant", "canary"))
        assert counts[key] == 1
        key = (("model", "churn"), ("outcome", "ok"), ("variant", "champion"))
        assert counts[key] == 1
        hist = samples(m, "mlopskit_request_duration_seconds_count")
        assert hist[(("model", "churn"), ("variant", "canary"))] == 5

    def test_registries_are_private(self) -> None:
        """Two servers' metrics never mix, and nothing lands in the global registry."""
        a, b = ServerMetrics(), ServerMetrics()
        a.observe("m", "v", 200, 0.1)
        assert samples(b, "mlopskit_requests_total") == {}
        assert REGISTRY.get_sample_value("mlopskit_requests_total", {"model": "m"}) is None

    @pytest.mark.parametrize(
        ("status", "outcome"),
        [
            (200, "ok"),
            (204, "ok"),
            (400, "client_error"),
            (413, "client_error"),
            (503, "server_error"),
        ],
    )
    def test_outcome_of_status(self, status: int, outcome: str) -> None:
        """Statuses map to ok / client_error / server_error."""
        assert outcome_of(status) == outcome

    def test_content_negotiation(self) -> None:
        """The Content-Type follows the Accept header and always carries a version."""
        m = ServerMetrics()
        m.observe("m", "v", 200, 0.1)
        body, ctype = m.render(None)
        assert ctype.startswith("text/plain") and "version=" in ctype
        assert b"mlopskit_requests_total" in body
        body, ctype = m.render("application/openmetrics-text; version=1.0.0")
        assert ctype.startswith("application/openmetrics-text")
        assert body.rstrip().endswith(b"# EOF")
