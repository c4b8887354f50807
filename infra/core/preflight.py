"""``tenantctl preflight``: the verdict of each check, from what AWS and the platform answered.

A check is ``pass``, ``fail`` or ``cannot-check`` (what it needs could not be read: the
evidence says why, never a guess). Each carries its evidence (the values read) and, when
it did not pass, what to do. The reads are ``infra.ops.preflight``'s; the rules are here,
over plain values, with the limits they compare against taken from ``infra.core.limits``.

Pure logic: no Pulumi, boto3 or database imports.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from infra.core import limits
from infra.core.integrations.ingest import (
    INGEST_ENDPOINT_OUTPUT,
    PUSH_PREFIX,
    ingest_endpoint_problem,
)
from infra.core.limits import Quota
from infra.core.platform import (
    LIST_OUTPUTS,
    OBJECT_LIST_OUTPUTS,
    OPTIONAL_OUTPUTS,
    PLATFORM_OUTPUTS,
    object_list_problem,
)

Verdict = Literal["pass", "fail", "cannot-check"]
PASS: Verdict = "pass"
FAIL: Verdict = "fail"
CANNOT: Verdict = "cannot-check"


@dataclass(frozen=True)
class Check:
    """One prerequisite, checked."""

    name: str
    """Stable id: ``ses-production-access``, ``quota:rds-instances``, ..."""
    verdict: Verdict
    summary: str
    """One line: what was found."""
    evidence: Mapping[str, Any] = field(default_factory=dict)
    fix: str = ""
    """What to do when it did not pass."""

    @property
    def passed(self) -> bool:
        return self.verdict == PASS

    def to_json(self) -> dict[str, Any]:
        return {
            "check": self.name,
            "verdict": self.verdict,
            "summary": self.summary,
            "evidence": dict(self.evidence),
            "fix": self.fix or None,
        }


@dataclass(frozen=True)
class PreflightReport:
    platform_stack: str
    region: str
    account: str | None
    caller: str | None
    clients: int
    counted_from: Sequence[str]
    """The clients whose plans give the per-client use of each quota."""
    checks: Sequence[Check]

    @property
    def ok(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def not_passed(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "platformStack": self.platform_stack,
            "region": self.region,
            "account": self.account,
            "caller": self.caller,
            "clients": self.clients,
            "countedFrom": list(self.counted_from),
            "checks": [c.to_json() for c in self.checks],
            "notPassed": [c.name for c in self.not_passed],
        }


def cannot(name: str, why: str, fix: str, **evidence: Any) -> Check:
    return Check(name, CANNOT, why, evidence, fix)


def needs_platform(name: str) -> Check:
    """A check that reads a platform output while the outputs are unusable."""
    return cannot(
        name,
        "needs the platform outputs, which did not pass",
        "fix the platform-outputs check first",
    )


# ------------------------------------------------------------------ the account


def ses_account(account: Mapping[str, Any]) -> list[Check]:
    """Production access and the sending quota, from ``sesv2 GetAccount``."""
    production = bool(account.get("ProductionAccessEnabled"))
    sending = account.get("SendingEnabled", True) is not False
    enforcement = account.get("EnforcementStatus") or "unknown"
    quota = account.get("SendQuota") or {}
    per_day = float(quota.get("Max24HourSend") or 0)
    rate = float(quota.get("MaxSendRate") or 0)
    sent = float(quota.get("SentLast24Hours") or 0)
    request = (
        "request production access: `aws sesv2 put-account-details --production-access-enabled "
        "--mail-type TRANSACTIONAL --website-url https://<zoneName> --use-case-description "
        "'administrator invitations and portal email'` (AWS answers within a day)"
    )
    evidence = {
        "productionAccessEnabled": production,
        "sendingEnabled": sending,
        "enforcementStatus": enforcement,
    }
    if not production:
        access = Check(
            "ses-production-access",
            FAIL,
            "SES is in the sandbox: it sends only to verified addresses, "
            f"{limits.SES_SANDBOX_MAX_24_HOUR_SEND} a day",
            evidence,
            request,
        )
    elif not sending or enforcement not in ("HEALTHY", "unknown"):
        access = Check(
            "ses-production-access",
            FAIL,
            f"SES sending is {'paused' if not sending else 'under review'} "
            f"(enforcement {enforcement})",
            evidence,
            "see the SES console's reputation dashboard; AWS says what to fix before sending "
            "is resumed",
        )
    else:
        access = Check(
            "ses-production-access", PASS, "production access, sending enabled", evidence
        )
    quota_evidence = {"max24HourSend": per_day, "maxSendRate": rate, "sentLast24Hours": sent}
    if per_day <= limits.SES_SANDBOX_MAX_24_HOUR_SEND or rate <= limits.SES_SANDBOX_MAX_SEND_RATE:
        send = Check(
            "ses-send-quota",
            FAIL,
            f"sending quota {per_day:,.0f} a day, {rate:g} a second: the sandbox's",
            quota_evidence,
            request,
        )
    elif sent >= per_day:
        send = Check(
            "ses-send-quota",
            FAIL,
            f"{sent:,.0f} of {per_day:,.0f} messages sent in the last 24 hours: none left",
            quota_evidence,
            "wait for the 24-hour window to move on, or request a higher sending quota "
            "(Service Quotas, Amazon SES)",
        )
    else:
        send = Check(
            "ses-send-quota",
            PASS,
            f"{per_day:,.0f} a day ({sent:,.0f} used), {rate:g} a second",
            quota_evidence,
        )
    return [access, send]


def ssm_default_tier(setting: Mapping[str, Any], region: str, account: str | None) -> Check:
    """The default parameter tier, from ``ssm GetServiceSetting``."""
    value = str(setting.get("SettingValue") or "")
    evidence = {"settingId": limits.SSM_DEFAULT_TIER_SETTING, "value": value}
    arn = f"arn:aws:ssm:{region}:{account or '<account>'}:servicesetting" + (
        limits.SSM_DEFAULT_TIER_SETTING
    )
    fix = (
        f"`aws ssm update-service-setting --region {region} --setting-id {arn} "
        "--setting-value Intelligent-Tiering`"
    )
    if value == "Intelligent-Tiering":
        return Check("ssm-default-parameter-tier", PASS, "Intelligent-Tiering", evidence)
    if value == "Advanced":
        return Check(
            "ssm-default-parameter-tier",
            PASS,
            "Advanced (every new parameter is charged as advanced; Intelligent-Tiering "
            "would keep them standard while the standard quota lasts)",
            evidence,
        )
    return Check(
        "ssm-default-parameter-tier",
        FAIL,
        f"{value or 'unknown'}: parameters tenantctl creates without a tier (locks, "
        "allow-lists, payment settings) stop at "
        f"{limits.SSM_STANDARD_PARAMETERS_PER_REGION:,} standard parameters per region, "
        "which cannot be raised",
        evidence,
        fix,
    )


@dataclass(frozen=True)
class AppliedQuota:
    """What Service Quotas said about one quota."""

    value: float | None
    """The applied value; ``None`` when not read."""
    source: str
    """``service-quotas``, ``documented default`` or why it could not be read."""
    readable: bool = True
    """False when Service Quotas refused or failed: the applied value is unknown."""


def quota_use(
    quota: Quota, per_client: int, clients: int, applied: AppliedQuota, shared: int = 0
) -> Check:
    """Whether *clients* clients, each using *per_client*, and *shared* (what the
    platform's shared resources for them use: preview pool servers) fit under the quota."""
    name = f"quota:{quota.key}"
    need = per_client * clients + shared
    code = limits.SERVICE_QUOTA_CODES.get(quota.key)
    limit = int(applied.value) if applied.value is not None else quota.default
    evidence: dict[str, Any] = {
        "quota": quota.name,
        "scope": quota.scope,
        "perClient": per_client,
        "clients": clients,
        "sharedByPoolServers": shared,
        "need": need,
        "limit": limit,
        "limitSource": applied.source,
        "defaultLimit": quota.default,
        "adjustable": quota.adjustable,
        "serviceQuotaCode": "/".join(code) if code else None,
        "documentation": quota.source,
    }
    if not applied.readable:
        if need <= quota.default:
            return Check(
                name,
                PASS,
                f"{need:,} needed, within the default {quota.default:,} "
                f"(applied value unreadable: {applied.source})",
                evidence,
            )
        return cannot(
            name,
            f"{need:,} needed, above the default {quota.default:,}, and the applied value "
            f"could not be read ({applied.source})",
            "allow servicequotas:GetServiceQuota to this caller, or compare in the Service "
            "Quotas console",
            **evidence,
        )
    if need <= limit:
        return Check(name, PASS, f"{need:,} needed of {limit:,} ({applied.source})", evidence)
    if quota.adjustable and code:
        fix = (
            f"request at least {need:,}: `aws service-quotas request-service-quota-increase "
            f"--service-code {code[0]} --quota-code {code[1]} --desired-value {need}`"
        )
    elif quota.adjustable:
        fix = f"request at least {need:,} from AWS Support (see {quota.source})"
    else:
        fix = (
            f"not adjustable: at most {limit // max(per_client, 1):,} clients fit one "
            "platform; add another platform"
        )
    return Check(name, FAIL, f"{need:,} needed, limit {limit:,} ({applied.source})", evidence, fix)


def zone_records(zone_id: str, count: int, limit: int, per_client: int, clients: int) -> Check:
    """The hosted zone's current record count: room for another client's records."""
    evidence = {
        "zoneId": zone_id,
        "records": count,
        "limit": limit,
        "perClient": per_client,
        "clients": clients,
    }
    if count + per_client <= limit:
        return Check(
            "hosted-zone-records",
            PASS,
            f"{count:,} of {limit:,} records used; a client adds {per_client}",
            evidence,
        )
    return Check(
        "hosted-zone-records",
        FAIL,
        f"{count:,} of {limit:,} records used: no room for another client's {per_client}",
        evidence,
        "request more records per hosted zone (Service Quotas, Amazon Route 53, "
        f"{'/'.join(limits.SERVICE_QUOTA_CODES['route53-records'])})",
    )


# ------------------------------------------------------------------ the platform


def output_problems(outputs: Mapping[str, Any]) -> dict[str, str]:
    """``{output: problem}`` for every documented output missing or of the wrong type."""
    problems: dict[str, str] = {}
    for name in PLATFORM_OUTPUTS:
        value = outputs.get(name)
        if value is None and name in OPTIONAL_OUTPUTS:
            continue
        if value is None or value == "" or value == []:
            problems[name] = "missing"
        elif name in LIST_OUTPUTS:
            if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                problems[name] = f"must be a list of strings, got {type(value).__name__}"
        elif name in OBJECT_LIST_OUTPUTS:
            problem = object_list_problem(value, OBJECT_LIST_OUTPUTS[name])
            if problem is not None:
                problems[name] = problem
        elif not isinstance(value, str):
            problems[name] = f"must be a string, got {type(value).__name__}"
    return problems


def platform_outputs(
    platform_stack: str, source: str, outputs: Mapping[str, Any] | None, error: str | None
) -> Check:
    """The platform outputs present and of the documented types."""
    if outputs is None:
        return Check(
            "platform-outputs",
            FAIL,
            error or f"no outputs for {platform_stack}",
            {"platformStack": platform_stack, "source": source},
            f"add {platform_stack}'s outputs to {source} (`pulumi stack output -s "
            f"{platform_stack} --json`), or install the Pulumi CLI and log in",
        )
    problems = output_problems(outputs)
    evidence = {
        "platformStack": platform_stack,
        "source": source,
        "present": sorted(n for n in PLATFORM_OUTPUTS if n not in problems),
        "problems": problems,
    }
    if problems:
        listed = "; ".join(f"{k} {v}" for k, v in problems.items())
        return Check(
            "platform-outputs",
            FAIL,
            f"{len(problems)} of {len(PLATFORM_OUTPUTS)} outputs unusable: {listed}",
            evidence,
            f"export them from {platform_stack} (README, the platform table) and refresh {source}",
        )
    return Check(
        "platform-outputs",
        PASS,
        f"all {len(PLATFORM_OUTPUTS)} outputs present and typed ({source})",
        evidence,
    )


def arn_region(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[3] if len(parts) > 5 and parts[0] == "arn" else None


def kms_key(
    arn: str,
    region: str,
    metadata: Mapping[str, Any] | None,
    data_key_error: str | None,
    caller: str | None,
) -> Check:
    """The platform key exists, is an enabled symmetric key in the platform's region, and
    the caller can use it (``GenerateDataKey`` succeeded)."""
    evidence: dict[str, Any] = {"kmsKeyArn": arn, "caller": caller}
    if metadata is None:
        return Check(
            "kms-key",
            FAIL,
            f"no key {arn} ({data_key_error or 'not found'})",
            evidence,
            "point kmsKeyArn at the platform's customer-managed key, in the tenants' region",
        )
    evidence.update(
        {
            "keyState": metadata.get("KeyState"),
            "keyUsage": metadata.get("KeyUsage"),
            "keySpec": metadata.get("KeySpec"),
            "keyManager": metadata.get("KeyManager"),
            "generateDataKey": "ok" if data_key_error is None else data_key_error,
        }
    )
    problems = []
    if metadata.get("KeyState") != "Enabled":
        problems.append(f"state {metadata.get('KeyState')}")
    if metadata.get("KeyUsage", "ENCRYPT_DECRYPT") != "ENCRYPT_DECRYPT":
        problems.append(f"usage {metadata.get('KeyUsage')}")
    if metadata.get("KeySpec", "SYMMETRIC_DEFAULT") != "SYMMETRIC_DEFAULT":
        problems.append(f"spec {metadata.get('KeySpec')} (S3, RDS and Secrets Manager need "
                        "a symmetric key)")  # fmt: skip
    if arn_region(str(metadata.get("Arn", arn))) not in (None, region):
        problems.append(f"in {arn_region(str(metadata.get('Arn')))}, not {region}")
    if data_key_error is not None:
        problems.append(f"the caller cannot use it ({data_key_error})")
    if problems:
        return Check(
            "kms-key",
            FAIL,
            f"key {arn}: " + "; ".join(problems),
            evidence,
            "enable the key (or point kmsKeyArn at an enabled symmetric key in the tenants' "
            "region) and give the deploy roles kms:GenerateDataKey, kms:Decrypt, "
            "kms:DescribeKey and kms:CreateGrant in its key policy",
        )
    return Check(
        "kms-key",
        PASS,
        f"enabled symmetric key; GenerateDataKey succeeded for {caller or 'the caller'}",
        evidence,
    )


def kms_role(role: str, arn: str, decisions: Mapping[str, str] | None, error: str | None) -> Check:
    """Whether *role* may use the key, from ``iam SimulatePrincipalPolicy`` (identity
    policies and the key policy; grants and SCPs are not part of the simulation)."""
    name = f"kms-key-role:{role}"
    if decisions is None:
        return cannot(
            name,
            f"could not simulate {role}'s access to the key ({error})",
            "allow iam:SimulatePrincipalPolicy and kms:GetKeyPolicy to this caller, or run "
            "preflight as that role (its kms-key check then tests the key directly)",
            role=role,
            kmsKeyArn=arn,
        )
    denied = sorted(a for a, d in decisions.items() if d != "allowed")
    evidence = {"role": role, "kmsKeyArn": arn, "decisions": dict(decisions)}
    if denied:
        return Check(
            name,
            FAIL,
            f"{role} may not {', '.join(denied)} on the key",
            evidence,
            f"allow {', '.join(denied)} to {role} in the key policy (or its IAM policy)",
        )
    return Check(name, PASS, f"{role} may {', '.join(sorted(decisions))}", evidence)


def identity_verified(identity: Mapping[str, Any]) -> bool:
    """SES sends from a domain identity once its DKIM records are found."""
    dkim = (identity.get("DkimAttributes") or {}).get("Status")
    return bool(identity.get("VerifiedForSendingStatus")) or dkim == "SUCCESS"


def email_identity(
    arn: str, zone_name: str | None, identity: Mapping[str, Any] | None, error: str | None
) -> Check:
    """The platform's SES domain identity exists for the zone and is verified for sending."""
    name = arn.rsplit("/", 1)[-1]
    evidence: dict[str, Any] = {"emailIdentityArn": arn, "identity": name, "zoneName": zone_name}
    if identity is None:
        return Check(
            "email-identity",
            FAIL,
            f"no SES identity {name} ({error or 'not found'})",
            evidence,
            f"create the platform's SES domain identity for {zone_name} and publish its "
            "DKIM records in the zone",
        )
    dkim = (identity.get("DkimAttributes") or {}).get("Status")
    evidence.update(
        {
            "identityType": identity.get("IdentityType"),
            "verifiedForSending": bool(identity.get("VerifiedForSendingStatus")),
            "dkimStatus": dkim,
        }
    )
    if identity.get("IdentityType", "DOMAIN") != "DOMAIN" or (zone_name and name != zone_name):
        return Check(
            "email-identity",
            FAIL,
            f"{name} is not the domain identity of the zone {zone_name}",
            evidence,
            f"point emailIdentityArn at the SES domain identity {zone_name}",
        )
    if not identity_verified(identity):
        return Check(
            "email-identity",
            FAIL,
            f"{name} is not verified for sending (DKIM {dkim or 'unknown'})",
            evidence,
            f"publish {name}'s DKIM CNAME records in the zone and wait until SES finds them "
            "(user pools cannot send through an unverified identity)",
        )
    return Check("email-identity", PASS, f"{name} verified for sending (DKIM {dkim})", evidence)


def ingest_endpoint(value: Any) -> Check:
    """The platform's ingest endpoint (``INGEST_ENDPOINT_OUTPUT``), which every push
    integration's ``pushUrl`` is made from, is present and an https base URL."""
    name = "ingest-endpoint"
    evidence: dict[str, Any] = {INGEST_ENDPOINT_OUTPUT: value}
    problem = ingest_endpoint_problem(value) if value else "is missing"
    if problem is not None:
        return Check(
            name,
            FAIL,
            f"platform output {INGEST_ENDPOINT_OUTPUT} {problem}",
            evidence,
            f"export {INGEST_ENDPOINT_OUTPUT} (https://<ingest host>) from the platform stack, "
            'with the one wildcard route of the README\'s "Push ingest route" section: no '
            "stack with a push integration can be planned without it",
        )
    return Check(name, PASS, f"{value} serves every push integration ({PUSH_PREFIX}*)", evidence)


def scheduler_role(
    output: str, arn: str, role: Mapping[str, Any] | None, error: str | None
) -> Check:
    """The platform's scheduler role of one stage (``SCHEDULER_ROLE_OUTPUTS``), which every
    pulled integration's schedule of that stage assumes, exists and trusts EventBridge
    Scheduler."""
    name = f"scheduler-role:{output}"
    evidence: dict[str, Any] = {output: arn}
    if role is None:
        return Check(
            name,
            FAIL,
            f"no IAM role {arn} ({error or 'not found'})",
            evidence,
            f'create it with the policies in the README\'s "Scheduler roles" section, or set '
            f"{output} in the platform outputs to the role that has them: no pulled "
            "integration's schedule can send its poll messages without it",
        )
    trust = role.get("AssumeRolePolicyDocument")
    text = trust if isinstance(trust, str) else repr(trust)
    if "scheduler.amazonaws.com" not in text:
        return Check(
            name,
            FAIL,
            f"IAM role {arn} does not trust scheduler.amazonaws.com",
            evidence,
            'give it the trust policy in the README\'s "Scheduler roles" section',
        )
    return Check(name, PASS, f"{arn} exists and trusts EventBridge Scheduler", evidence)


def connection_group(
    group_id: str, routing_endpoint: str, group: Mapping[str, Any] | None, error: str | None
) -> Check:
    """The platform's CloudFront connection group (``connectionGroupId``), which every
    client domain's distribution tenant joins, exists, is enabled, and routes at the
    endpoint clients are told to point their CNAME at (``connectionGroupRoutingEndpoint``)."""
    evidence: dict[str, Any] = {
        "connectionGroupId": group_id,
        "expectedRoutingEndpoint": routing_endpoint,
    }
    if group is None:
        return Check(
            "connection-group",
            FAIL,
            f"no CloudFront connection group {group_id} ({error or 'not found'})",
            evidence,
            "create the platform's connection group (CloudFront SaaS Manager) in this account, "
            "or set connectionGroupId in the platform outputs to the one there: no client "
            "domain can become a distribution tenant without it",
        )
    found = str(group.get("RoutingEndpoint") or "")
    evidence.update(
        {
            "name": group.get("Name"),
            "status": group.get("Status"),
            "enabled": bool(group.get("Enabled")),
            "routingEndpoint": found,
        }
    )
    if not group.get("Enabled"):
        return Check(
            "connection-group",
            FAIL,
            f"connection group {group_id} is disabled (status {group.get('Status')})",
            evidence,
            f"enable it (aws cloudfront update-connection-group --id {group_id} --enabled "
            "--if-match ETAG, the ETag get-connection-group returns): a disabled group serves "
            "no client domain",
        )
    if found.rstrip(".").lower() != routing_endpoint.rstrip(".").lower():
        return Check(
            "connection-group",
            FAIL,
            f"connection group {group_id} routes at {found or 'no endpoint'}, not at "
            f"{routing_endpoint} (connectionGroupRoutingEndpoint)",
            evidence,
            f"set connectionGroupRoutingEndpoint in the platform outputs to {found}: clients "
            "point their CNAME at it and promote verifies that",
        )
    return Check(
        "connection-group",
        PASS,
        f"{group_id} enabled, routing at {found} (status {group.get('Status')})",
        evidence,
    )


def _admits_log_delivery(policy_text: str | None) -> bool:
    try:
        policy = json.loads(policy_text or "{}")
    except ValueError:
        return False
    statements = policy.get("Statement") or []
    for statement in statements if isinstance(statements, list) else [statements]:
        principal = (statement.get("Principal") or {}) if isinstance(statement, dict) else {}
        services = principal.get("Service") if isinstance(principal, dict) else None
        services = [services] if isinstance(services, str) else services or []
        actions = statement.get("Action") or []
        actions = [actions] if isinstance(actions, str) else actions
        if (
            statement.get("Effect") == "Allow"
            and "logging.s3.amazonaws.com" in services
            and any(a in ("s3:PutObject", "s3:*", "*") for a in actions)
        ):
            return True
    return False


def access_log_bucket(
    name: str,
    region: str,
    bucket_region: str | None,
    error: str | None,
    encryption: Sequence[str],
    policy_text: str | None,
) -> Check:
    """The platform's access-log bucket exists in the tenants' region, is not SSE-KMS
    (S3 cannot deliver server access logs to one) and admits S3's logging service."""
    evidence: dict[str, Any] = {
        "accessLogBucketName": name,
        "bucketRegion": bucket_region,
        "encryption": list(encryption),
        "admitsLogDelivery": _admits_log_delivery(policy_text),
    }
    if error is not None:
        return Check(
            "access-log-bucket",
            FAIL,
            f"bucket {name}: {error}",
            evidence,
            f"create the log bucket {name} in {region} (the platform stack) and refresh its "
            "outputs",
        )
    problems = []
    if bucket_region not in (None, region):
        problems.append(f"in {bucket_region}, not {region} (logs go to the same region)")
    if any(a.startswith("aws:kms") for a in encryption):
        problems.append("SSE-KMS default encryption (S3 delivers access logs only to SSE-S3)")
    if not evidence["admitsLogDelivery"]:
        problems.append("its policy does not allow logging.s3.amazonaws.com s3:PutObject")
    if problems:
        return Check(
            "access-log-bucket",
            FAIL,
            f"bucket {name}: " + "; ".join(problems),
            evidence,
            "give the log bucket SSE-S3 default encryption and a policy allowing "
            "logging.s3.amazonaws.com to s3:PutObject (AWS: 'Enabling Amazon S3 server "
            "access logging')",
        )
    return Check(
        "access-log-bucket",
        PASS,
        f"{name} in {region}, {', '.join(encryption) or 'default'} encryption, admits log delivery",
        evidence,
    )


def policy_pack(
    expected: Sequence[str], served: Sequence[str] | None, pack: str | None, error: str | None
) -> Check:
    """The policy pack starts as the engine starts it and serves every rule."""
    evidence: dict[str, Any] = {"pack": pack, "rules": sorted(expected), "served": served}
    if served is None:
        return Check(
            "policy-pack",
            FAIL,
            f"the policy pack did not load: {error}",
            evidence,
            "run `python -m pulumi.policy 127.0.0.1:0 .` in policy/ to see the error, fix it",
        )
    missing = sorted(set(expected) - set(served))
    if missing:
        return Check(
            "policy-pack",
            FAIL,
            f"{pack} does not serve {', '.join(missing)}",
            evidence,
            "register every rule of policy.rules in the pack (policy/)",
        )
    return Check(
        "policy-pack", PASS, f"{pack}: {len(served)} policies, every rule served", evidence
    )
