"""The host routing table (issue 18): one route per host, what the application serves."""

from __future__ import annotations

import pytest

from infra.core import naming
from infra.core.routing import ROUTING_PREFIX, route_key, routes_for
from tests.helpers import demo_spec, validate

BUCKET = "tenantctl-demo-x-content-1a2b3c4d"


def _routes(stage: naming.Stage, live: bool = False) -> dict[str, dict[str, object]]:
    spec = demo_spec(stage).model_copy(update={"live": live})
    return {r.host: validate("route", r.to_json()) for r in routes_for(spec, BUCKET)}


def test_a_preview_serves_the_application_on_its_admin_and_portal_hosts() -> None:
    spec = demo_spec("preview")
    routes = _routes("preview")
    assert set(routes) == {spec.admin_host, spec.portal_host}
    assert {r["serve"] for r in routes.values()} == {"application"}
    assert routes[spec.admin_host]["kind"] == "admin"
    assert all(r["comingSoonPage"] is None for r in routes.values())


def test_a_production_that_is_not_live_answers_coming_soon_on_every_host() -> None:
    spec = demo_spec("production")
    routes = _routes("production")
    assert set(routes) == {spec.admin_host, spec.portal_host, spec.portal_domain}
    for route in routes.values():
        assert route["serve"] == "coming-soon" and route["comingSoonStatus"] == 503
        assert spec.display_name in str(route["comingSoonPage"])


def test_a_live_production_serves_its_own_domain_too() -> None:
    spec = demo_spec("production")
    routes = _routes("production", live=True)
    assert routes[str(spec.portal_domain)] == {
        **routes[spec.portal_host],
        "host": spec.portal_domain,
    }
    assert {r["serve"] for r in routes.values()} == {"application"}


@pytest.mark.parametrize("stage", naming.STAGES)
def test_hosts_stay_one_label_under_a_wildcard_the_platform_owns(stage: naming.Stage) -> None:
    """An ACM wildcard covers one label: ``*.<base>`` and ``*.admin.<base>`` only."""
    spec = demo_spec(stage)
    for host in (spec.admin_host, spec.portal_host):
        label, _, rest = host.partition(".")
        assert rest in (spec.base_domain, f"admin.{spec.base_domain}") and label


def test_a_route_lives_under_the_versioned_prefix() -> None:
    assert route_key("demo.tenants.example.com") == "routing/v1/demo.tenants.example.com.json"
    assert ROUTING_PREFIX == "routing/v1/"
