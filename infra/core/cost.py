"""The fixed monthly cost of a stack, priced from what its plan registers.

``stack_cost`` walks a plan's resources and prices what has a fixed monthly cost
(``infra.core.prices``): database instance-hours and storage, secrets (RDS's
managed master-user secret included), CloudFront distribution tenants. Cognito
and SSM cost depends on the whole account (free MAU, the 10,000 free standard
parameters), so ``fleet_cost`` prices them over N clients and shares them out.
Usage (requests, data transfer, emails) is not a fixed cost and is left out.

Pure logic: no Pulumi, boto3, database or YAML imports.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from infra.core import prices
from infra.core.limits import SSM_STANDARD_PARAMETERS_PER_REGION
from infra.core.platform import PoolServer


class Resource(Protocol):
    @property
    def type(self) -> str: ...

    @property
    def inputs(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class CostLine:
    item: str
    quantity: float
    unit: str
    usd: float
    checked: bool = True
    """False when a price could not be confirmed (``prices.Price.checked``)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "item": self.item,
            "quantity": self.quantity,
            "unit": self.unit,
            "usd": round(self.usd, 2),
            "checked": self.checked,
        }


class UnpricedResource(ValueError):
    """A resource whose price the table does not have (an instance class, say)."""


def _database(inputs: Mapping[str, Any]) -> list[CostLine]:
    klass, multi_az = str(inputs.get("instanceClass")), bool(inputs.get("multiAz"))
    storage = int(inputs.get("allocatedStorage") or 0)
    return _server(klass, multi_az, storage, bool(inputs.get("manageMasterUserPassword")))


def pool_share(server: PoolServer, capacity: int) -> list[CostLine]:
    """One pooled preview's share of its pool server: the server's lines over *capacity*
    (a full pool; a pool half full costs its previews twice this)."""
    whole = _server(
        server.instance_class, server.multi_az, server.storage_gb, server.managed_master_secret
    )
    return [
        CostLine(
            f"{line.item} (pool server, 1/{capacity})",
            line.quantity / capacity,
            line.unit,
            line.usd / capacity,
            line.checked,
        )
        for line in whole
    ]


def _server(klass: str, multi_az: bool, storage: int, managed_secret: bool) -> list[CostLine]:
    hour = prices.RDS_INSTANCE_HOUR.get((klass, multi_az))
    if hour is None:
        raise UnpricedResource(
            f"no price for {klass} ({'Multi-AZ' if multi_az else 'Single-AZ'}) in "
            "infra/core/prices.py; add it with its source"
        )
    gb = prices.RDS_GP3_GB_MONTH[multi_az]
    az = "Multi-AZ" if multi_az else "Single-AZ"
    lines = [
        CostLine(
            f"RDS {klass} {az}",
            prices.HOURS_PER_MONTH,
            hour.unit,
            hour.usd * prices.HOURS_PER_MONTH,
            hour.checked,
        ),
        CostLine(f"RDS gp3 storage {az}", storage, gb.unit, gb.usd * storage, gb.checked),
    ]
    if managed_secret:
        lines.append(_secret("RDS master-user secret"))
    return lines


def _secret(item: str) -> CostLine:
    return CostLine(item, 1, prices.SECRET_MONTH.unit, prices.SECRET_MONTH.usd)


DAYS_PER_MONTH = 365.25 / 12


def monthly_invocations(expression: str) -> float:
    """How often a month an EventBridge Scheduler expression fires: ``rate(N minutes)``
    (the pull schedules) or a ``cron(m h ? * DAYS *)`` once on each listed weekday (the
    enforcement-hours switches)."""
    body = expression[expression.index("(") + 1 : -1].split()
    if expression.startswith("rate("):
        minutes = int(body[0]) * {"minute": 1, "hour": 60, "day": 1440}[body[1].rstrip("s")]
        return DAYS_PER_MONTH * 1440 / minutes
    weekdays = body[4]
    per_week = 7 if weekdays in ("*", "?") else len(weekdays.split(","))
    return DAYS_PER_MONTH * per_week / 7


def stack_cost(resources: Iterable[Resource]) -> list[CostLine]:
    """The fixed monthly cost lines of one stack's resources."""
    lines: list[CostLine] = []
    alarms = 0
    schedules = 0
    invocations = 0.0
    for r in resources:
        if r.type == "aws:rds/instance:Instance":
            lines += _database(r.inputs)
        elif r.type == "aws:secretsmanager/secret:Secret":
            lines.append(_secret(f"secret {r.inputs.get('name', '')}".strip()))
        elif r.type == "aws:cloudfront/distributionTenant:DistributionTenant":
            price = prices.CLOUDFRONT_TENANT_MONTH
            lines.append(CostLine("CloudFront tenant", 1, price.unit, price.usd, price.checked))
        elif r.type == "aws:cloudwatch/metricAlarm:MetricAlarm":
            alarms += 1
        elif r.type == "aws:scheduler/schedule:Schedule":
            schedules += 1
            invocations += monthly_invocations(str(r.inputs.get("scheduleExpression", "")))
    if alarms:  # one line: alarms are alike, and an unconfirmed price is named once
        price = prices.CLOUDWATCH_ALARM_MONTH
        lines.append(
            CostLine("CloudWatch alarms", alarms, price.unit, price.usd * alarms, price.checked)
        )
    if schedules:  # pull polls and enforcement-hours switches: billed per invocation
        price = prices.SCHEDULER_INVOCATION
        lines.append(
            CostLine(
                f"EventBridge Scheduler invocations ({schedules} schedules)",
                round(invocations),
                price.unit,
                price.usd * invocations,
                price.checked,
            )
        )
    return lines


def total(lines: Iterable[CostLine]) -> float:
    return round(sum(line.usd for line in lines), 2)


@dataclass(frozen=True)
class AccountUse:
    """What one client uses of what the account prices as a whole."""

    users: int
    """Cognito users (administrators), assumed active every month."""
    parameters: int
    """SSM parameters."""


def fleet_cost(clients: int, use: AccountUse) -> list[CostLine]:
    """Account-wide charges of *clients* clients alike, shared out per client."""
    mau = clients * use.users
    billable = max(0, mau - prices.COGNITO_FREE_MAU)
    cognito = prices.COGNITO_ESSENTIALS_MAU
    params = clients * use.parameters
    advanced = max(0, params - SSM_STANDARD_PARAMETERS_PER_REGION)
    ssm = prices.SSM_ADVANCED_PARAMETER_MONTH
    return [
        CostLine(
            "Cognito MAU beyond the free tier (per client)",
            billable / clients,
            cognito.unit,
            billable * cognito.usd / clients,
            cognito.checked,
        ),
        CostLine(
            "SSM advanced parameters beyond 10,000 standard (per client)",
            advanced / clients,
            ssm.unit,
            advanced * ssm.usd / clients,
            ssm.checked,
        ),
    ]
