"""The local target's AWS emulator: moto, with the few account-level APIs it lacks.

``tenantctl preflight`` reads account settings that moto 5 does not implement: SES's
account (``sesv2 GetAccount``: production access and sending quota) and SSM's service
settings (``GetServiceSetting``: the default parameter tier). ``install()`` adds them
to moto's own response classes, with state kept on moto's backends (so
``/moto-api/reset`` resets it like everything else) and the defaults a new AWS
account has: SES in the sandbox, parameters in the Standard tier. They change only
through the real APIs a platform engineer calls: ``sesv2 PutAccountDetails`` (granted
at once here; AWS reviews it) and ``ssm UpdateServiceSetting``/``ResetServiceSetting``.

It also lets the local target give the platform's key and zone the ids its platform
outputs name (``stacks/platform-outputs.yaml``), as moto's ``_custom_id_`` tag does for
other resources: ``kms CreateKey`` honours a ``_custom_id_`` tag, and ``route53
CreateHostedZone`` a caller reference ``_custom_id_:<zone id>``.

CloudFront SaaS Manager is missing from moto 5 too: ``install()`` adds connection groups
(``CreateConnectionGroup``/``GetConnectionGroup``; a ``_custom_id_`` tag chooses the id
and a ``_custom_routing_endpoint_`` tag the routing endpoint, so the platform's group
can be the one its outputs name), distribution tenants (``Create``/``Get``/
``UpdateDistributionTenant``) and ``VerifyDnsConfiguration``, which answers from the
emulator's own Route 53: ``valid-configuration`` when a hosted zone holds a CNAME for the
domain pointing at the tenant's connection group's routing endpoint (a test, or the
demo, publishes the client's CNAME by creating that record), else
``invalid-configuration``.

``python -m infra.devtools.emulator [moto.server options]`` runs moto's server with
these installed (the local target's background emulator); ``localtarget.in_process``
installs them in the test process.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any

from infra.core import limits

CUSTOM_ID = "_custom_id_"
"""moto's tag key for a resource id chosen by the caller."""

SANDBOX_QUOTA = {
    "Max24HourSend": float(limits.SES_SANDBOX_MAX_24_HOUR_SEND),
    "MaxSendRate": float(limits.SES_SANDBOX_MAX_SEND_RATE),
}
"""What a sandboxed SES account may send (moto's SES v1 quota says the same)."""
PRODUCTION_QUOTA = {"Max24HourSend": 50_000.0, "MaxSendRate": 14.0}
"""What the emulator grants with production access (AWS: typically 50,000 a day, 14/s)."""

TIER_SETTING = limits.SSM_DEFAULT_TIER_SETTING
_SETTING_DEFAULTS = {TIER_SETTING: "Standard"}
_SETTING_VALUES = {TIER_SETTING: set(limits.SSM_TIERS)}

_installed = False


def install() -> None:
    """Add the missing APIs to moto (idempotent; this process only)."""
    global _installed
    if _installed:
        return
    _install_sesv2_account()
    _install_ssm_service_settings()
    _install_custom_ids()
    _install_cloudfront_tenants()
    _install_lookups_once()
    _installed = True


# ------------------------------------------------------- lookups made once, not per request


def _install_lookups_once() -> None:
    """Two things moto recomputes that cannot change while it runs, computed once.

    - Which service a request is for: moto's dispatcher checks the host against
      ``list_of_moto_modules()``, a listing of moto's package folder (``listdir`` and an
      ``isdir`` for each of its ~170 entries), on every request to a single endpoint.
    - A user pool's signing key: every ``CreateUserPool`` parses moto's one bundled RSA
      key (``jwks-private.json``) again, the same key each time (moto only reads it and
      derives its key id, which is the same each time too).
    """
    import functools
    import types

    from joserfc import jwk
    from moto import backends
    from moto.cognitoidp import models as cognito

    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules

    @functools.cache
    def parsed(document: str) -> Any:
        return jwk.RSAKey.import_key(json.loads(document))

    class RSAKeyOnce(jwk.RSAKey):
        @classmethod
        def import_key(cls, value: Any, *args: Any, **kwargs: Any) -> Any:
            if args or kwargs or not isinstance(value, dict):
                return jwk.RSAKey.import_key(value, *args, **kwargs)
            return parsed(json.dumps(value, sort_keys=True))

    # moto's cognitoidp module sees joserfc's jwk with only RSAKey's import_key changed
    once = types.ModuleType(jwk.__name__)
    once.__dict__.update(vars(jwk))
    once.RSAKey = RSAKeyOnce  # type: ignore[attr-defined]
    cognito.jwk = once


# ------------------------------------------------------------------- SES account


def _install_sesv2_account() -> None:
    from moto.sesv2 import urls
    from moto.sesv2.models import SESV2Backend
    from moto.sesv2.responses import SESV2Response

    def account(backend: SESV2Backend) -> dict[str, Any]:
        state: dict[str, Any] = backend.__dict__.setdefault(
            "_tenantctl_account", {"ProductionAccessEnabled": False, "Details": None}
        )
        return state

    def get_account(self: SESV2Response) -> str:
        state = account(self.sesv2_backend)
        quota = PRODUCTION_QUOTA if state["ProductionAccessEnabled"] else SANDBOX_QUOTA
        sent = float(self.sesv2_backend.core_backend.sent_message_count)
        body: dict[str, Any] = {
            "DedicatedIpAutoWarmupEnabled": False,
            "EnforcementStatus": "HEALTHY",
            "ProductionAccessEnabled": state["ProductionAccessEnabled"],
            "SendQuota": {**quota, "SentLast24Hours": sent},
            "SendingEnabled": self.sesv2_backend.core_backend.sending_enabled
            if hasattr(self.sesv2_backend.core_backend, "sending_enabled")
            else True,
        }
        if state["Details"]:
            body["Details"] = state["Details"]
        return json.dumps(body)

    def put_account_details(self: SESV2Response) -> str:
        params = json.loads(self.body or "{}")
        state = account(self.sesv2_backend)
        if params.get("ProductionAccessEnabled"):
            state["ProductionAccessEnabled"] = True  # AWS reviews the request; the emulator grants
        state["Details"] = {
            k: params[k]
            for k in ("MailType", "WebsiteURL", "ContactLanguage", "UseCaseDescription")
            if k in params
        } | {"ReviewDetails": {"Status": "GRANTED"}}
        return "{}"

    # moto's catch-all /v2/ route stops at one path segment: route the account's own paths
    urls.url_paths["{0}/v2/email/account$"] = SESV2Response.dispatch
    urls.url_paths["{0}/v2/email/account/details$"] = SESV2Response.dispatch
    SESV2Response.get_account = get_account  # type: ignore[attr-defined]
    SESV2Response.put_account_details = put_account_details  # type: ignore[attr-defined]


# ----------------------------------------------------------- SSM service settings


def _install_ssm_service_settings() -> None:
    from moto.core.responses import ActionResult
    from moto.ssm.exceptions import ValidationException
    from moto.ssm.responses import SimpleSystemManagerResponse

    def settings(response: SimpleSystemManagerResponse) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = response.ssm_backend.__dict__.setdefault(
            "_tenantctl_settings", {}
        )
        return found

    def setting_id(response: SimpleSystemManagerResponse) -> str:
        given = str(response._get_param("SettingId") or "")
        bare = given.split(":servicesetting", 1)[-1] if given.startswith("arn:") else given
        if bare not in _SETTING_DEFAULTS:
            raise ValidationException(f"Invalid setting id {given!r}")
        return bare

    def describe(response: SimpleSystemManagerResponse, bare: str) -> dict[str, Any]:
        stored = settings(response).get(bare)
        backend = response.ssm_backend
        arn = f"arn:aws:ssm:{backend.region_name}:{backend.account_id}:servicesetting{bare}"
        return {
            "SettingId": bare,
            "SettingValue": stored["value"] if stored else _SETTING_DEFAULTS[bare],
            "LastModifiedDate": stored["at"] if stored else datetime(2018, 1, 1, tzinfo=UTC),
            "LastModifiedUser": stored["by"] if stored else "System",
            "ARN": arn,
            "Status": "Customized" if stored else "Default",
        }

    def get_service_setting(self: SimpleSystemManagerResponse) -> ActionResult:
        return ActionResult({"ServiceSetting": describe(self, setting_id(self))})

    def update_service_setting(self: SimpleSystemManagerResponse) -> ActionResult:
        bare = setting_id(self)
        value = str(self._get_param("SettingValue") or "")
        if value not in _SETTING_VALUES[bare]:
            raise ValidationException(f"Invalid value {value!r} for {bare}")
        by = f"arn:aws:iam::{self.ssm_backend.account_id}:root"
        settings(self)[bare] = {"value": value, "at": datetime.now(UTC), "by": by}
        return ActionResult({})

    def reset_service_setting(self: SimpleSystemManagerResponse) -> ActionResult:
        bare = setting_id(self)
        settings(self).pop(bare, None)
        return ActionResult({"ServiceSetting": describe(self, bare)})

    SimpleSystemManagerResponse.get_service_setting = get_service_setting  # type: ignore[attr-defined]
    SimpleSystemManagerResponse.update_service_setting = update_service_setting  # type: ignore[attr-defined]
    SimpleSystemManagerResponse.reset_service_setting = reset_service_setting  # type: ignore[attr-defined]


# ------------------------------------------------------------------ custom ids


def _install_custom_ids() -> None:
    from moto.kms.models import KmsBackend
    from moto.route53.models import HostedZoneIdentifier, Route53Backend
    from moto.utilities.id_generator import moto_id_manager

    create_key = KmsBackend.create_key

    def create_key_with_id(
        self: KmsBackend,
        policy: str | None,
        key_usage: str,
        key_spec: str,
        description: str,
        tags: list[dict[str, str]] | None,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        custom = next((t["TagValue"] for t in tags or [] if t.get("TagKey") == CUSTOM_ID), None)
        kept = [t for t in tags or [] if t.get("TagKey") != CUSTOM_ID]
        key = create_key(self, policy, key_usage, key_spec, description, kept, *args, **kwargs)
        if custom and custom not in self.keys:  # moto has no id source for keys: re-key it
            del self.keys[key.id]
            key.arn = key.arn.replace(key.id, custom)
            key.id = custom
            self.keys[custom] = key
        return key

    create_zone = Route53Backend.create_hosted_zone

    def create_zone_with_id(self: Route53Backend, name: str, *args: Any, **kwargs: Any) -> Any:
        reference = str(kwargs.get("caller_reference") or "")
        prefix = f"{CUSTOM_ID}:"
        if not reference.startswith(prefix):
            return create_zone(self, name, *args, **kwargs)
        # moto's own id source for zones, registered for this one call
        identifier = HostedZoneIdentifier(self.account_id, name, kwargs.get("delegation_set_id"))
        moto_id_manager.set_custom_id(identifier, reference[len(prefix) :])
        try:
            return create_zone(self, name, *args, **kwargs)
        finally:
            moto_id_manager.unset_custom_id(identifier)

    KmsBackend.create_key = create_key_with_id  # type: ignore[method-assign]
    Route53Backend.create_hosted_zone = create_zone_with_id  # type: ignore[method-assign]


# ------------------------------------------------------ CloudFront SaaS Manager

CUSTOM_ROUTING_ENDPOINT = "_custom_routing_endpoint_"
"""The emulator's tag key for a connection group's routing endpoint chosen by the caller."""


def _install_cloudfront_tenants() -> None:
    import hashlib

    from moto.cloudfront.exceptions import CloudFrontException
    from moto.cloudfront.responses import CloudFrontResponse
    from moto.core.responses import ActionResult
    from moto.route53.models import route53_backends

    class EntityNotFound(CloudFrontException):
        def __init__(self, what: str) -> None:
            super().__init__("EntityNotFound", f"{what} does not exist")

    class PreconditionFailed(CloudFrontException):
        def __init__(self) -> None:
            super().__init__("PreconditionFailed", "the If-Match version is not the current one")

    def state(response: CloudFrontResponse) -> dict[str, dict[str, dict[str, Any]]]:
        found: dict[str, dict[str, dict[str, Any]]] = response.backend.__dict__.setdefault(
            "_tenantctl_saas", {"groups": {}, "tenants": {}}
        )
        return found

    def tags_of(response: CloudFrontResponse) -> list[dict[str, str]]:
        return list((response._get_param("Tags") or {}).get("Items") or [])

    def arn(response: CloudFrontResponse, kind: str, id_: str) -> str:
        return f"arn:aws:cloudfront::{response.current_account}:{kind}/{id_}"

    def short(*parts: str) -> str:
        return hashlib.sha256("/".join(parts).encode()).hexdigest()[:13]

    def create_connection_group(self: CloudFrontResponse) -> ActionResult:
        name = str(self._get_param("Name"))
        tags = tags_of(self)
        chosen = {t["Key"]: t.get("Value", "") for t in tags}
        id_ = chosen.get(CUSTOM_ID) or f"cg_{short(self.current_account, name)}"
        now = datetime.now(UTC)
        group = {
            "Id": id_,
            "Name": name,
            "Arn": arn(self, "connection-group", id_),
            "CreatedTime": now,
            "LastModifiedTime": now,
            "Ipv6Enabled": bool(self._get_param("Ipv6Enabled", True)),
            "RoutingEndpoint": chosen.get(CUSTOM_ROUTING_ENDPOINT)
            or f"d{short(id_)}.cloudfront.net",
            "Status": "Deployed",
            "Enabled": bool(self._get_param("Enabled", True)),
            "IsDefault": False,
            "Tags": {
                "Items": [t for t in tags if t["Key"] not in (CUSTOM_ID, CUSTOM_ROUTING_ENDPOINT)]
            },
        }
        state(self)["groups"][id_] = group
        return ActionResult({"ConnectionGroup": group, "ETag": "E1"})

    def get_connection_group(self: CloudFrontResponse) -> ActionResult:
        wanted = str(self._get_param("Identifier"))
        for group in state(self)["groups"].values():
            if wanted in (group["Id"], group["Name"], group["Arn"]):
                return ActionResult({"ConnectionGroup": group, "ETag": "E1"})
        raise EntityNotFound(f"connection group {wanted}")

    def find_tenant(response: CloudFrontResponse, wanted: str) -> dict[str, Any]:
        for tenant in state(response)["tenants"].values():
            if wanted in (tenant["Id"], tenant["Name"], tenant["Arn"]):
                return tenant
        raise EntityNotFound(f"distribution tenant {wanted}")

    def tenant_result(tenant: dict[str, Any]) -> ActionResult:
        body = {k: v for k, v in tenant.items() if k != "_etag"}
        return ActionResult({"DistributionTenant": body, "ETag": tenant["_etag"]})

    def domains_of(response: CloudFrontResponse) -> list[dict[str, str]]:
        return [
            {"Domain": d["Domain"], "Status": "active"}
            for d in response._get_param("Domains") or []
        ]

    def create_distribution_tenant(self: CloudFrontResponse) -> ActionResult:
        name = str(self._get_param("Name"))
        if any(t["Name"] == name for t in state(self)["tenants"].values()):
            raise CloudFrontException(
                "EntityAlreadyExists", f"a distribution tenant named {name} exists"
            )
        group = str(self._get_param("ConnectionGroupId") or "")
        if group and group not in state(self)["groups"]:
            raise EntityNotFound(f"connection group {group}")
        id_ = f"dt_{short(self.current_account, name)}"
        now = datetime.now(UTC)
        tenant = {
            "Id": id_,
            "DistributionId": self._get_param("DistributionId"),
            "Name": name,
            "Arn": arn(self, "distribution-tenant", id_),
            "Domains": domains_of(self),
            "Tags": {"Items": tags_of(self)},
            "Customizations": self._get_param("Customizations") or {},
            "ConnectionGroupId": group,
            "Enabled": bool(self._get_param("Enabled", True)),
            "Status": "Deployed",
            "CreatedTime": now,
            "LastModifiedTime": now,
            "_etag": "E1",
        }
        state(self)["tenants"][id_] = tenant
        return tenant_result(tenant)

    def get_distribution_tenant(self: CloudFrontResponse) -> ActionResult:
        return tenant_result(find_tenant(self, str(self._get_param("Identifier"))))

    def update_distribution_tenant(self: CloudFrontResponse) -> ActionResult:
        tenant = find_tenant(self, str(self._get_param("Id")))
        if self._get_param("IfMatch") != tenant["_etag"]:
            raise PreconditionFailed()
        for key in ("DistributionId", "Customizations", "ConnectionGroupId", "Enabled"):
            value = self._get_param(key)
            if value is not None:
                tenant[key] = value
        if self._get_param("Domains"):
            tenant["Domains"] = domains_of(self)
        tenant["LastModifiedTime"] = datetime.now(UTC)
        tenant["_etag"] = f"E{int(tenant['_etag'][1:]) + 1}"
        return tenant_result(tenant)

    def cname_of(account: str, domain: str) -> str | None:
        for zone in route53_backends[account]["aws"].zones.values():
            for record in zone.rrsets:
                if record.type == "CNAME" and record.name.rstrip(".") == domain.rstrip("."):
                    values = [str(v) for v in record.records]
                    return values[0].rstrip(".") if values else None
        return None

    def verify_dns_configuration(self: CloudFrontResponse) -> ActionResult:
        tenant = find_tenant(self, str(self._get_param("Identifier")))
        group = state(self)["groups"].get(tenant["ConnectionGroupId"])
        endpoint = group["RoutingEndpoint"] if group else None
        asked = self._get_param("Domain")
        found = []
        for domain in [d["Domain"] for d in tenant["Domains"] if asked in (None, d["Domain"])]:
            target = cname_of(self.current_account, domain)
            if endpoint is not None and target == endpoint:
                found.append({"Domain": domain, "Status": "valid-configuration"})
            else:
                reason = f"CNAME points to {target}" if target else "no CNAME record found"
                found.append(
                    {"Domain": domain, "Status": "invalid-configuration", "Reason": reason}
                )
        return ActionResult({"DnsConfigurationList": found})

    for method in (
        create_connection_group,
        get_connection_group,
        create_distribution_tenant,
        get_distribution_tenant,
        update_distribution_tenant,
        verify_dns_configuration,
    ):
        setattr(CloudFrontResponse, method.__name__, method)


def main(argv: list[str] | None = None) -> None:
    """moto's server (same options as ``python -m moto.server``) with ``install()`` applied."""
    from moto import server

    install()
    server.main(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":  # pragma: no cover
    main()
