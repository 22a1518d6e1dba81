"""A plan's monthly cost estimate from a price table: per resource, stack and type, the guide's savings, differences."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from tradai_nb import config
from tradai_nb.errors import TradaiError
from tradai_nb.settings import CostAssumptions, Settings

PRICES_FILE = Path(__file__).with_name("prices_eu_central_1.yaml")
LINE_COLUMNS = ["stack", "type", "name", "component", "monthly_usd", "how"]
UNPRICED_COLUMNS = ["stack", "type", "count", "reason"]
FREE_COLUMNS = ["stack", "type", "count", "note"]
SAVINGS_COLUMNS = ["optimisation", "guide_claim", "in_plan", "computed_usd", "computed_percent", "difference", "basis"]
NAT_NAME = "nat"  # the NAT instance's Auto Scaling group is config.get_resource_name("nat", env)


class PriceDataError(TradaiError):
    """Raised when the price data cannot be read or lacks what the estimate needs."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class _Unpriced(Exception):
    """A resource the price data does not cover, with why."""


@dataclass(frozen=True)
class PriceData:
    """The price table: groups of list prices (each with its source page), the free types, the guide's claims."""

    region: str
    currency: str
    as_of: str
    hours_per_month: float
    note: str
    groups: dict[str, dict[str, Any]]
    free: dict[str, str]
    guide_claims: dict[str, dict[str, Any]]
    path: str = ""

    @classmethod
    def load(cls, path: Path | str = PRICES_FILE) -> PriceData:
        """Read a price file (YAML, safe loader); a missing or malformed part is an error naming the file and key."""
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise PriceDataError(f"{path}: cannot read the price data ({exc})", path=str(path)) from None
        if not isinstance(data, dict):
            raise PriceDataError(f"{path}: expected a mapping at the top level", path=str(path))
        missing = [k for k in ("region", "currency", "as_of", "hours_per_month", "groups", "free") if k not in data]
        if missing:
            raise PriceDataError(
                f"{path}: missing key(s) {', '.join(missing)}; see {PRICES_FILE.name} for the layout", path=str(path)
            )
        for name, group in data["groups"].items():
            if not isinstance(group, dict) or not group.get("source"):
                raise PriceDataError(
                    f"{path}: group {name!r} needs a `source` (the page its prices come from)", path=str(path)
                )
        return cls(
            str(data["region"]),
            str(data["currency"]),
            str(data["as_of"]),
            float(data["hours_per_month"]),
            str(data.get("note", "")),
            dict(data["groups"]),
            dict(data["free"]),
            dict(data.get("guide_claims") or {}),
            str(path),
        )

    def sources(self) -> dict[str, str]:
        """Group name -> the page its prices come from."""
        return {name: group["source"] for name, group in self.groups.items()}

    def group_of(self, resource_type: str) -> str | None:
        """The group whose prices cover this resource type (None: no group does)."""
        return next((name for name, group in self.groups.items() if resource_type in (group.get("types") or [])), None)

    def price(self, group: str, *keys: str) -> float:
        """One price: group, key, and sub-keys (instance class, architecture, ...)."""
        value: Any = self.groups.get(group)
        path = group
        for key in keys:
            if not isinstance(value, Mapping) or key not in value:
                raise _Unpriced(f"the price data has no {path}.{key}")
            value = value[key]
            path = f"{path}.{key}"
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _Unpriced(f"the price data's {path} is not a number")
        return float(value)


@dataclass
class CostEstimate:
    """What a plan costs a month: one line per priced component, what is free by rule, what the data does not price."""

    environment: str
    lines: pd.DataFrame
    not_priced: pd.DataFrame
    free: pd.DataFrame
    savings: pd.DataFrame
    assumptions: dict[str, float]
    prices: PriceData
    stacks: list[str] = field(default_factory=list)

    @property
    def total_usd(self) -> float:
        return round(float(self.lines["monthly_usd"].sum()), 2)

    def per_stack(self) -> pd.DataFrame:
        """Monthly cost per stack (stacks in plan order; a stack with nothing priced shows 0)."""
        sums = self.lines.groupby("stack", sort=False)["monthly_usd"].sum()
        return pd.DataFrame(
            {"stack": self.stacks, "monthly_usd": [round(float(sums.get(s, 0.0)), 2) for s in self.stacks]}
        )

    def per_type(self) -> pd.DataFrame:
        """Monthly cost per stack and resource type, with the number of resources priced."""
        if self.lines.empty:
            return pd.DataFrame(columns=["stack", "type", "count", "monthly_usd"])
        grouped = self.lines.groupby(["stack", "type"], sort=False).agg(
            count=("name", "nunique"), monthly_usd=("monthly_usd", "sum")
        )
        grouped["monthly_usd"] = grouped["monthly_usd"].round(2)
        return grouped.reset_index()

    def to_dict(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "region": self.prices.region,
            "currency": self.prices.currency,
            "total_monthly_usd": self.total_usd,
            "stacks": _records(self.per_stack()),
            "types": _records(self.per_type()),
            "lines": _records(self.lines.assign(monthly_usd=self.lines["monthly_usd"].round(4))),
            "not_priced": _records(self.not_priced),
            "free": _records(self.free),
            "savings": _records(self.savings),
            "assumptions": self.assumptions,
            "prices": {
                "as_of": self.prices.as_of,
                "region": self.prices.region,
                "note": self.prices.note,
                "file": Path(self.prices.path).name,
                "sources": self.prices.sources(),
            },
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, default=float)


@dataclass
class CostComparison:
    """The monthly cost of two environments side by side, per stack and per type, with the difference."""

    estimate: CostEstimate
    against: CostEstimate

    def per_stack(self) -> pd.DataFrame:
        return self._side_by_side(self.estimate.per_stack(), self.against.per_stack(), ["stack"])

    def per_type(self) -> pd.DataFrame:
        keys = ["stack", "type"]
        return self._side_by_side(
            self.estimate.per_type()[[*keys, "monthly_usd"]], self.against.per_type()[[*keys, "monthly_usd"]], keys
        )

    @property
    def difference_usd(self) -> float:
        return round(self.against.total_usd - self.estimate.total_usd, 2)

    def _side_by_side(self, left: pd.DataFrame, right: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
        a, b = self.estimate.environment, self.against.environment
        merged = left.rename(columns={"monthly_usd": a}).merge(
            right.rename(columns={"monthly_usd": b}), on=keys, how="outer", sort=False
        )
        merged[[a, b]] = merged[[a, b]].astype(float).fillna(0.0)
        merged["difference"] = (merged[b] - merged[a]).round(2)
        return merged

    def to_dict(self) -> dict[str, Any]:
        return {
            "environment": self.estimate.environment,
            "against": self.against.environment,
            "difference_monthly_usd": self.difference_usd,
            "stacks": _records(self.per_stack()),
            "types": _records(self.per_type()),
            "estimate": self.estimate.to_dict(),
            "against_estimate": self.against.to_dict(),
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, default=float)


class _Context:
    """What pricing one resource may look up: the prices, the assumptions and the other planned resources."""

    def __init__(
        self, resources: pd.DataFrame, prices: PriceData, assumptions: CostAssumptions, environment: str
    ) -> None:
        self.prices = prices
        self.usage = assumptions
        self.environment = environment
        self.hours = prices.hours_per_month
        self.resources = resources
        self.by_id = {r.id: r for r in resources.itertuples(index=False)}
        self.by_arn = {
            r.outputs.get("arn"): r
            for r in resources.itertuples(index=False)
            if isinstance(r.outputs, Mapping) and r.outputs.get("arn")
        }

    def of_type(self, resource_type: str) -> list[Any]:
        return list(self.resources[self.resources["type"] == resource_type].itertuples(index=False))

    def count(self, resource_type: str) -> int:
        return int((self.resources["type"] == resource_type).sum())

    def bucket_config(self, resource_type: str, bucket: str) -> Mapping[str, Any]:
        return next((r.inputs for r in self.of_type(resource_type) if r.inputs.get("bucket") == bucket), {})


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts for JSON: missing values as None (JSON has no NaN)."""
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def _usd(value: float) -> str:
    return f"${value:,.4f}".rstrip("0").rstrip(".") if value < 1 else f"${value:,.2f}"


def _qty(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.3g}"


# ----- pricing rules, one per resource type -------------------------------------------------------------------------

Component = tuple[str, float, str]  # what, monthly USD, how


def _rds_instance(r, ctx: _Context) -> list[Component]:
    inputs = r.inputs
    klass, multi = inputs.get("instanceClass"), bool(inputs.get("multiAz"))
    mode = "multi_az" if multi else "single_az"
    label = "Multi-AZ" if multi else "single-AZ"
    hourly = ctx.prices.price("rds", f"instance_hour_{mode}", klass)
    parts = [("instance", ctx.hours * hourly, f"{klass} {label} {_qty(ctx.hours)} h × {_usd(hourly)}")]
    storage_type = inputs.get("storageType", "gp2")
    gb = float(inputs.get("allocatedStorage") or 0)
    per_gb = ctx.prices.price("rds", f"{storage_type}_gb_month_{mode}")
    parts.append(("storage", gb * per_gb, f"{_qty(gb)} GB {storage_type} {label} × {_usd(per_gb)}/GB-month"))
    if inputs.get("manageMasterUserPassword"):
        secret = ctx.prices.price("secrets_manager", "secret_month")
        parts.append(("managed master password secret", secret, f"1 secret × {_usd(secret)}/month"))
    return parts


def _launch_template(r, ctx: _Context) -> Mapping[str, Any]:
    template_id = (r.inputs.get("launchTemplate") or {}).get("id")
    template = ctx.by_id.get(template_id)
    if template is None:
        raise _Unpriced(f"its launch template {template_id!r} is not in the plan")
    return template.inputs


def _instance_parts(template: Mapping[str, Any], instances: float, ctx: _Context) -> list[Component]:
    instance_type = template.get("instanceType")
    if not isinstance(instance_type, str):
        raise _Unpriced(f"its launch template sets no instance type (instanceType {instance_type!r})")
    hourly = ctx.prices.price("ec2", "instance_hour", instance_type)
    parts = [
        (
            "instances",
            instances * ctx.hours * hourly,
            f"{_qty(instances)} × {instance_type} {_qty(ctx.hours)} h × {_usd(hourly)}",
        )
    ]
    volumes = [m.get("ebs") or {} for m in template.get("blockDeviceMappings") or []] or [{}]
    for volume in volumes:
        size = float(volume.get("volumeSize") or ctx.usage.ebs_root_volume_gb)
        kind = volume.get("volumeType", "gp3")
        per_gb = ctx.prices.price("ebs", f"{kind}_gb_month")
        sized = "" if volume.get("volumeSize") else " (size from the AMI: assumption ebs_root_volume_gb)"
        parts.append(
            (
                "EBS volume",
                instances * size * per_gb,
                f"{_qty(instances)} × {_qty(size)} GB {kind} × {_usd(per_gb)}/GB-month{sized}",
            )
        )
    public = sum(
        str(n.get("associatePublicIpAddress")).lower() == "true" for n in template.get("networkInterfaces") or []
    )
    if public:
        per_hour = ctx.prices.price("public_ipv4", "address_hour")
        parts.append(
            (
                "public IPv4 address",
                instances * public * ctx.hours * per_hour,
                f"{_qty(instances * public)} address × {_qty(ctx.hours)} h × {_usd(per_hour)}",
            )
        )
    return parts


def _autoscaling_group(r, ctx: _Context) -> list[Component]:
    instances = float(r.inputs.get("desiredCapacity") or r.inputs.get("minSize") or 0)
    return _instance_parts(_launch_template(r, ctx), instances, ctx)


def _eip(r, ctx: _Context) -> list[Component]:
    per_hour = ctx.prices.price("public_ipv4", "address_hour")
    return [("public IPv4 address", ctx.hours * per_hour, f"1 address × {_qty(ctx.hours)} h × {_usd(per_hour)}")]


def _vpc_endpoint(r, ctx: _Context) -> list[Component]:
    kind = r.inputs.get("vpcEndpointType", "Gateway")
    if kind == "Gateway":
        monthly = ctx.prices.price("vpc_endpoints", "gateway_month")
        return [("gateway endpoint", monthly, f"gateway endpoint: {_usd(monthly)}/month")]
    zones = len(r.inputs.get("subnetIds") or []) or 1
    per_hour = ctx.prices.price("vpc_endpoints", "interface_az_hour")
    per_gb = ctx.prices.price("vpc_endpoints", "interface_data_gb")
    gb = ctx.usage.interface_endpoint_data_gb_per_month
    return [
        ("interface endpoint", zones * ctx.hours * per_hour, f"{zones} AZ × {_qty(ctx.hours)} h × {_usd(per_hour)}"),
        ("data processed", gb * per_gb, f"{_qty(gb)} GB × {_usd(per_gb)} (assumption)"),
    ]


def _task_size(task_definition) -> tuple[float, float, str]:
    inputs = task_definition.inputs
    vcpu = float(inputs.get("cpu") or 0) / 1024
    gb = float(inputs.get("memory") or 0) / 1024
    arch = str((inputs.get("runtimePlatform") or {}).get("cpuArchitecture", "X86_64")).lower()
    return vcpu, gb, "arm64" if arch == "arm64" else "x86_64"


def _spot_share(strategies: list[Mapping[str, Any]] | None) -> float:
    weights = {s.get("capacityProvider"): float(s.get("weight") or 0) for s in strategies or []}
    total = sum(weights.values())
    return weights.get("FARGATE_SPOT", 0.0) / total if total else 0.0


def _fargate_cost(
    vcpu: float, gb: float, arch: str, task_hours: float, spot_share: float, ctx: _Context
) -> tuple[float, str]:
    rates = {}
    for market in ("on_demand", "spot"):
        rates[market] = vcpu * ctx.prices.price("fargate", market, arch, "vcpu_hour") + gb * ctx.prices.price(
            "fargate", market, arch, "gb_hour"
        )
    hourly = (1 - spot_share) * rates["on_demand"] + spot_share * rates["spot"]
    market = "FARGATE" if spot_share == 0 else "FARGATE_SPOT" if spot_share == 1 else f"{spot_share:.0%} FARGATE_SPOT"
    how = f"{_qty(task_hours)} task-h × ({_qty(vcpu)} vCPU + {_qty(gb)} GB {arch}) at {_usd(hourly)}/task-h, {market}"
    return task_hours * hourly, how


def _ecs_service(r, ctx: _Context) -> list[Component]:
    task = ctx.by_arn.get(r.inputs.get("taskDefinition"))
    if task is None:
        raise _Unpriced("its task definition is not in the plan")
    vcpu, gb, arch = _task_size(task)
    count = float(r.inputs.get("desiredCount") or 0)
    usd, how = _fargate_cost(
        vcpu, gb, arch, count * ctx.hours, _spot_share(r.inputs.get("capacityProviderStrategies")), ctx
    )
    return [("Fargate tasks", usd, f"{_qty(count)} tasks × {_qty(ctx.hours)} h: {how}")]


def _backtest_task(definition: Mapping[str, Any], ctx: _Context) -> tuple[Any, float] | None:
    """The task definition the workflow's ECS state runs, and its Spot share (the state's strategy, else the
    cluster's default strategy)."""
    for state in (definition.get("States") or {}).values():
        if str(state.get("Resource", "")).startswith("arn:aws:states:::ecs:runTask"):
            parameters = state.get("Parameters") or {}
            task = ctx.by_arn.get(parameters.get("TaskDefinition"))
            if task is None:
                raise _Unpriced("the task definition its ECS state runs is not in the plan")
            strategies = parameters.get("CapacityProviderStrategy")
            if strategies is None:
                cluster = ctx.by_arn.get(parameters.get("Cluster"))
                cluster_name = cluster.inputs.get("name") if cluster is not None else None
                defaults: Mapping[str, Any] = next(
                    (
                        c.inputs
                        for c in ctx.of_type("aws:ecs/clusterCapacityProviders:ClusterCapacityProviders")
                        if c.inputs.get("clusterName") == cluster_name
                    ),
                    {},
                )
                strategies = defaults.get("defaultCapacityProviderStrategies") or []
                strategies = [
                    {"capacityProvider": s.get("capacityProvider"), "weight": s.get("weight")} for s in strategies
                ]
            else:
                strategies = [
                    {"capacityProvider": s.get("CapacityProvider"), "weight": s.get("Weight")} for s in strategies
                ]
            return task, _spot_share(strategies)
    return None


def _happy_path_states(definition: Mapping[str, Any]) -> int:
    """States an execution passes through when every step succeeds (the first choice taken at each Choice)."""
    states = definition.get("States") or {}
    name, seen = definition.get("StartAt"), []
    while name in states and name not in seen:
        seen.append(name)
        state = states[name]
        if state.get("End") or state.get("Type") in ("Succeed", "Fail"):
            break
        name = state.get("Next") or next((c.get("Next") for c in state.get("Choices") or []), None)
    return len(seen)


def _state_machine(r, ctx: _Context) -> list[Component]:
    try:
        definition = json.loads(r.inputs.get("definition") or "{}")
    except (TypeError, ValueError):
        raise _Unpriced("its definition is not JSON") from None
    runs = ctx.usage.backtest_runs_per_month
    transitions = _happy_path_states(definition)
    per_thousand = ctx.prices.price("step_functions", "standard_thousand_transitions")
    parts = [
        (
            "state transitions",
            runs * transitions / 1000 * per_thousand,
            f"{_qty(runs)} runs (assumption) × {transitions} states / 1000 × {_usd(per_thousand)}",
        )
    ]
    backtest = _backtest_task(definition, ctx)
    if backtest is not None:
        task, spot_share = backtest
        vcpu, gb, arch = _task_size(task)
        task_hours = runs * ctx.usage.backtest_task_hours
        usd, how = _fargate_cost(vcpu, gb, arch, task_hours, spot_share, ctx)
        parts.append(
            ("backtest tasks", usd, f"{_qty(runs)} runs × {_qty(ctx.usage.backtest_task_hours)} h (assumptions): {how}")
        )
    return parts


def _load_balancer(r, ctx: _Context) -> list[Component]:
    hourly = ctx.prices.price("alb", "hour")
    per_lcu = ctx.prices.price("alb", "lcu_hour")
    lcus = ctx.usage.alb_lcu_average
    parts = [
        ("load balancer", ctx.hours * hourly, f"{_qty(ctx.hours)} h × {_usd(hourly)}"),
        ("LCUs", lcus * ctx.hours * per_lcu, f"{_qty(lcus)} LCU (assumption) × {_qty(ctx.hours)} h × {_usd(per_lcu)}"),
    ]
    if not r.inputs.get("internal"):
        zones = len(r.inputs.get("subnets") or []) or 1
        per_hour = ctx.prices.price("public_ipv4", "address_hour")
        parts.append(
            (
                "public IPv4 addresses",
                zones * ctx.hours * per_hour,
                f"{zones} addresses (one per AZ) × {_qty(ctx.hours)} h × {_usd(per_hour)}",
            )
        )
    return parts


def _http_api(r, ctx: _Context) -> list[Component]:
    if r.inputs.get("protocolType", "HTTP") != "HTTP":
        raise _Unpriced(f"the price data prices HTTP APIs, not {r.inputs.get('protocolType')} APIs")
    millions = ctx.usage.api_requests_millions_per_month
    per_million = ctx.prices.price("api_gateway", "http_api_million_requests")
    return [("requests", millions * per_million, f"{_qty(millions)} M requests (assumption) × {_usd(per_million)}/M")]


def _web_acl(r, ctx: _Context) -> list[Component]:
    rules = len(r.inputs.get("rules") or [])
    acl, per_rule = ctx.prices.price("waf", "web_acl_month"), ctx.prices.price("waf", "rule_month")
    millions, per_million = ctx.usage.api_requests_millions_per_month, ctx.prices.price("waf", "million_requests")
    return [
        ("web ACL and rules", acl + rules * per_rule, f"1 web ACL × {_usd(acl)} + {rules} rules × {_usd(per_rule)}"),
        ("requests", millions * per_million, f"{_qty(millions)} M requests (assumption) × {_usd(per_million)}/M"),
    ]


def _metric_alarm(r, ctx: _Context) -> list[Component]:
    metrics = sum(1 for q in r.inputs.get("metricQueries") or [] if q.get("metric")) or 1
    price = ctx.prices.price("cloudwatch", "standard_alarm_month")
    return [("alarm", metrics * price, f"{metrics} metric × {_usd(price)}/alarm-month")]


def _composite_alarm(r, ctx: _Context) -> list[Component]:
    price = ctx.prices.price("cloudwatch", "composite_alarm_month")
    return [("composite alarm", price, f"1 × {_usd(price)}/month")]


def _dashboard(r, ctx: _Context) -> list[Component]:
    price = ctx.prices.price("cloudwatch", "dashboard_month")
    return [("dashboard", price, f"1 × {_usd(price)}/month")]


def _log_group(r, ctx: _Context) -> list[Component]:
    gb = ctx.usage.log_ingestion_gb_per_group_per_month
    ingest, store = (
        ctx.prices.price("cloudwatch", "logs_ingested_gb"),
        ctx.prices.price("cloudwatch", "logs_stored_gb_month"),
    )
    days = r.inputs.get("retentionInDays")
    months = min(float(days) / 30, 12.0) if days else 12.0
    kept = f"{_qty(float(days))}-day retention" if days else "no expiry: 12 months kept"
    return [
        ("ingestion", gb * ingest, f"{_qty(gb)} GB (assumption) × {_usd(ingest)}/GB"),
        ("storage", gb * months * store, f"{_qty(gb * months)} GB kept ({kept}) × {_usd(store)}/GB-month"),
    ]


def _kms_key(r, ctx: _Context) -> list[Component]:
    price = ctx.prices.price("kms", "key_month")
    return [("customer managed key", price, f"1 key × {_usd(price)}/month")]


def _bucket(r, ctx: _Context) -> list[Component]:
    name = r.inputs.get("bucket") or r.outputs.get("bucket")
    gb = ctx.usage.s3_storage_gb_per_bucket
    standard, ia = ctx.prices.price("s3", "standard_gb_month"), ctx.prices.price("s3", "standard_ia_gb_month")
    rules = [
        rule
        for rule in ctx.bucket_config("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", name).get(
            "rules"
        )
        or []
        if rule.get("status") == "Enabled"
    ]
    moves = any(t.get("storageClass") == "STANDARD_IA" for rule in rules for t in rule.get("transitions") or [])
    share = ctx.usage.s3_infrequent_access_share if moves else 0.0
    parts = [
        (
            "storage",
            gb * (1 - share) * standard + gb * share * ia,
            f"{_qty(gb)} GB (assumption)"
            + (f", {share:.0%} moved to STANDARD_IA by lifecycle" if moves else "")
            + f" × {_usd(standard)}"
            + (f" / {_usd(ia)}" if moves else "")
            + "/GB-month",
        )
    ]
    versioning = ctx.bucket_config("aws:s3/bucketVersioning:BucketVersioning", name)
    if (versioning.get("versioningConfiguration") or {}).get("status") == "Enabled":
        kept_gb, how = _superseded_kept_gb(rules, ctx)
        parts.append(("superseded versions", kept_gb * standard, f"{how} × {_usd(standard)}/GB-month"))
    return parts


def _superseded_kept_gb(rules: list[Mapping[str, Any]], ctx: _Context) -> tuple[float, str]:
    """GB of superseded versions a versioned bucket holds: what its noncurrent-version rule keeps, else 12 months'."""
    monthly = ctx.usage.s3_superseded_gb_per_bucket_per_month
    days = [
        float(rule["noncurrentVersionExpiration"]["noncurrentDays"])
        for rule in rules
        if (rule.get("noncurrentVersionExpiration") or {}).get("noncurrentDays")
    ]
    if days:
        months = min(min(days) / 30, 12.0)
        return monthly * months, f"{_qty(monthly)} GB/month (assumption) kept {_qty(min(days))} days"
    return monthly * 12, f"{_qty(monthly)} GB/month (assumption) with no expiry rule: 12 months' worth"


def _dynamodb_table(r, ctx: _Context) -> list[Component]:
    inputs = r.inputs
    gb = ctx.usage.dynamodb_storage_gb_per_table
    storage = ctx.prices.price("dynamodb", "storage_gb_month")
    if inputs.get("billingMode", "PROVISIONED") == "PAY_PER_REQUEST":
        tables = sum(
            1 for t in ctx.of_type("aws:dynamodb/table:Table") if t.inputs.get("billingMode") == "PAY_PER_REQUEST"
        )
        writes = ctx.usage.dynamodb_write_millions_per_month / tables
        reads = ctx.usage.dynamodb_read_millions_per_month / tables
        w, rd = (
            ctx.prices.price("dynamodb", "on_demand_million_writes"),
            ctx.prices.price("dynamodb", "on_demand_million_reads"),
        )
        parts = [
            (
                "on-demand requests",
                writes * w + reads * rd,
                f"{_qty(writes)} M writes × {_usd(w)} + {_qty(reads)} M reads × {_usd(rd)} "
                f"(assumption, shared over {tables} on-demand tables)",
            )
        ]
    else:
        wcu, rcu = float(inputs.get("writeCapacity") or 0), float(inputs.get("readCapacity") or 0)
        w, rd = (
            ctx.prices.price("dynamodb", "provisioned_wcu_hour"),
            ctx.prices.price("dynamodb", "provisioned_rcu_hour"),
        )
        parts = [
            (
                "provisioned capacity",
                ctx.hours * (wcu * w + rcu * rd),
                f"{_qty(ctx.hours)} h × ({_qty(wcu)} WCU × {_usd(w)} + {_qty(rcu)} RCU × {_usd(rd)})",
            )
        ]
    parts.append(("storage", gb * storage, f"{_qty(gb)} GB (assumption) × {_usd(storage)}/GB-month"))
    if (inputs.get("pointInTimeRecovery") or {}).get("enabled"):
        pitr = ctx.prices.price("dynamodb", "pitr_gb_month")
        parts.append(("point-in-time recovery", gb * pitr, f"{_qty(gb)} GB × {_usd(pitr)}/GB-month"))
    return parts


def _lambda_function(r, ctx: _Context) -> list[Component]:
    arch = "arm64" if "arm64" in (r.inputs.get("architectures") or []) else "x86_64"
    memory_gb = float(r.inputs.get("memorySize") or 128) / 1024
    calls, seconds = ctx.usage.lambda_invocations_per_function_per_month, ctx.usage.lambda_average_duration_s
    per_gb_s, per_million = (
        ctx.prices.price("lambda", "gb_second", arch),
        ctx.prices.price("lambda", "million_requests"),
    )
    return [
        (
            "compute",
            calls * seconds * memory_gb * per_gb_s,
            f"{_qty(calls)} calls × {_qty(seconds)} s × {_qty(memory_gb)} GB (assumptions) × "
            f"{_usd(per_gb_s)}/GB-s {arch}",
        ),
        ("requests", calls / 1e6 * per_million, f"{_qty(calls)} calls × {_usd(per_million)}/M"),
    ]


def _ecr_repository(r, ctx: _Context) -> list[Component]:
    gb, price = ctx.usage.ecr_storage_gb_per_repository, ctx.prices.price("ecr", "storage_gb_month")
    return [("image storage", gb * price, f"{_qty(gb)} GB (assumption) × {_usd(price)}/GB-month")]


def _codeartifact_repository(r, ctx: _Context) -> list[Component]:
    gb, price = ctx.usage.codeartifact_storage_gb, ctx.prices.price("codeartifact", "storage_gb_month")
    return [("package storage", gb * price, f"{_qty(gb)} GB (assumption) × {_usd(price)}/GB-month")]


def _queue(r, ctx: _Context) -> list[Component]:
    kind = "fifo" if r.inputs.get("fifoQueue") else "standard"
    millions, price = (
        ctx.usage.sqs_requests_millions_per_queue_per_month,
        ctx.prices.price("sqs", f"{kind}_million_requests"),
    )
    return [("requests", millions * price, f"{_qty(millions)} M {kind} requests (assumption) × {_usd(price)}/M")]


def _topic(r, ctx: _Context) -> list[Component]:
    millions, price = ctx.usage.sns_publishes_millions_per_topic_per_month, ctx.prices.price("sns", "million_publishes")
    return [("publishes", millions * price, f"{_qty(millions)} M publishes (assumption) × {_usd(price)}/M")]


def _dns_namespace(r, ctx: _Context) -> list[Component]:
    price = ctx.prices.price("route53", "hosted_zone_month")
    return [("private hosted zone", price, f"1 hosted zone × {_usd(price)}/month")]


def _user_pool(r, ctx: _Context) -> list[Component]:
    users = ctx.usage.cognito_monthly_active_users
    free, price = ctx.prices.price("cognito", "essentials_free_mau"), ctx.prices.price("cognito", "essentials_mau")
    billed = max(0.0, users - free)
    return [
        (
            "monthly active users",
            billed * price,
            f"{_qty(users)} MAU (assumption), first {_qty(free)} free, then {_usd(price)}/MAU",
        )
    ]


PRICERS: dict[str, Callable[[Any, _Context], list[Component]]] = {
    "aws:rds/instance:Instance": _rds_instance,
    "aws:autoscaling/group:Group": _autoscaling_group,
    "aws:ec2/eip:Eip": _eip,
    "aws:ec2/vpcEndpoint:VpcEndpoint": _vpc_endpoint,
    "aws:ecs/service:Service": _ecs_service,
    "aws:sfn/stateMachine:StateMachine": _state_machine,
    "aws:lb/loadBalancer:LoadBalancer": _load_balancer,
    "aws:apigatewayv2/api:Api": _http_api,
    "aws:wafv2/webAcl:WebAcl": _web_acl,
    "aws:cloudwatch/metricAlarm:MetricAlarm": _metric_alarm,
    "aws:cloudwatch/compositeAlarm:CompositeAlarm": _composite_alarm,
    "aws:cloudwatch/dashboard:Dashboard": _dashboard,
    "aws:cloudwatch/logGroup:LogGroup": _log_group,
    "aws:kms/key:Key": _kms_key,
    "aws:s3/bucket:Bucket": _bucket,
    "aws:dynamodb/table:Table": _dynamodb_table,
    "aws:lambda/function:Function": _lambda_function,
    "aws:ecr/repository:Repository": _ecr_repository,
    "aws:codeartifact/repository:Repository": _codeartifact_repository,
    "aws:sqs/queue:Queue": _queue,
    "aws:sns/topic:Topic": _topic,
    "aws:servicediscovery/privateDnsNamespace:PrivateDnsNamespace": _dns_namespace,
    "aws:cognito/userPool:UserPool": _user_pool,
}


# ----- the estimate -------------------------------------------------------------------------------------------------


def estimate(plan, settings: Settings, prices: PriceData | None = None) -> CostEstimate:
    """The monthly cost of a plan (tradai_nb.engine.plan.Plan) with the settings' cost assumptions."""
    prices = prices or load_prices()
    if prices.region != settings.aws_region:
        raise PriceDataError(
            f"the price data is for {prices.region} but {settings.environment} deploys to "
            f"{settings.aws_region}; use a price file for {settings.aws_region}",
            path=prices.path,
        )
    resources = plan.resources
    resources = resources[resources["custom"].astype(bool) & ~resources["type"].str.startswith("pulumi:")]
    ctx = _Context(resources, prices, settings.cost_assumptions, settings.environment)
    lines: list[tuple[Any, ...]] = []
    unpriced, free = [], []
    for r in resources.itertuples(index=False):
        if r.type in prices.free:
            free.append((r.stack, r.type, prices.free[r.type]))
            continue
        pricer = PRICERS.get(r.type) if prices.group_of(r.type) else None
        if pricer is None:
            unpriced.append((r.stack, r.type, "no price for this type in the price data"))
            continue
        try:
            parts = pricer(r, ctx)
        except _Unpriced as exc:
            unpriced.append((r.stack, r.type, str(exc)))
            continue
        lines.extend((r.stack, r.type, r.name, what, round(usd, 6), how) for what, usd, how in parts)
    return CostEstimate(
        settings.environment,
        pd.DataFrame(lines, columns=LINE_COLUMNS),
        _counted(unpriced, UNPRICED_COLUMNS),
        _counted(free, FREE_COLUMNS),
        _savings(ctx),
        settings.cost_assumptions.model_dump(),
        prices,
        [s.name for s in plan.stacks],
    )


def _counted(rows: list[tuple[str, str, str]], columns: list[str]) -> pd.DataFrame:
    if not rows:
        return pd.DataFrame(columns=columns)
    frame = pd.DataFrame(rows, columns=[columns[0], columns[1], columns[3]])
    counted = frame.groupby([columns[0], columns[1], columns[3]], sort=False).size().rename("count").reset_index()
    return counted[columns]


def load_prices(path: Path | str = PRICES_FILE) -> PriceData:
    """The price table shipped with the project (or another file of the same layout)."""
    return PriceData.load(path)


def compare(estimate_a: CostEstimate, estimate_b: CostEstimate) -> CostComparison:
    """Two environments' estimates side by side (b minus a)."""
    return CostComparison(estimate_a, estimate_b)


def estimate_environment(
    settings: Settings, prices: PriceData | None = None, on_progress: Callable[[str], None] | None = None
) -> CostEstimate:
    """Plan the whole estate offline, then estimate it."""
    from tradai_nb.engine.plan import plan

    return estimate(plan(settings, on_progress=on_progress), settings, prices)


def estimate_bootstrap(result, settings: Settings, prices: PriceData | None = None) -> CostEstimate:
    """The estimate of a bootstrap's plan (tradai_nb.bootstrap.BootstrapResult of action `plan`), from the plans it
    made; a bootstrap that previewed or deployed holds no plans, so the estate is planned offline for it."""
    from tradai_nb.engine.plan import Plan

    plans = [done.plan.stack(name) for name, done in result.results.items() if done.plan is not None]
    if not plans:
        return estimate_environment(settings, prices)
    return estimate(Plan(settings.environment, plans), settings, prices)


# ----- the guide's optimisations, computed --------------------------------------------------------------------------


def _savings(ctx: _Context) -> pd.DataFrame:
    claims = ctx.prices.guide_claims
    rows = []
    for key, compute in (
        ("nat_instance", _nat_saving),
        ("fargate_spot", _spot_saving),
        ("single_az_rds", _single_az_saving),
        ("rds_t4g_micro", _t4g_micro_cost),
        ("dynamodb_on_demand", _on_demand_saving),
        ("s3_lifecycle", _lifecycle_saving),
    ):
        claim = claims.get(key) or {}
        try:
            in_plan, usd, percent, basis = compute(ctx)
        except _Unpriced as exc:
            in_plan, usd, percent, basis = "-", None, None, f"not computed: {exc}"
        difference = None
        if usd is not None and "usd" in claim:
            difference = f"{round(usd - float(claim['usd']), 2) + 0:+,.2f} USD"
        elif percent is not None and "percent" in claim:
            difference = f"{round(percent - float(claim['percent']), 1) + 0:+.1f} points"
        rows.append(
            {
                "optimisation": claim.get("optimisation", key),
                "guide_claim": claim.get("claim", ""),
                "in_plan": in_plan,
                "computed_usd": None if usd is None else round(usd, 2),
                "computed_percent": None if percent is None else round(percent, 1),
                "difference": difference,
                "basis": basis,
            }
        )
    return pd.DataFrame(rows, columns=SAVINGS_COLUMNS)


def _nat_saving(ctx: _Context):
    nat_name = config.get_resource_name(NAT_NAME, ctx.environment)
    groups = [g for g in ctx.of_type("aws:autoscaling/group:Group") if g.inputs.get("name") == nat_name]
    if not groups:
        raise _Unpriced(f"the plan has no NAT instance group {nat_name!r}")
    instance = sum(usd for g in groups for _, usd, _ in _autoscaling_group(g, ctx))
    hourly, per_gb = (
        ctx.prices.price("nat_gateway", "gateway_hour"),
        ctx.prices.price("nat_gateway", "data_processed_gb"),
    )
    gb = ctx.usage.nat_data_gb_per_month
    gateway = len(groups) * (ctx.hours * hourly + gb * per_gb)
    saving = gateway - instance
    basis = (
        f"{len(groups)} NAT gateway × ({_qty(ctx.hours)} h × {_usd(hourly)} + {_qty(gb)} GB × {_usd(per_gb)}) = "
        f"${gateway:,.2f} vs NAT instance (instance, volume, public address) ${instance:,.2f}"
    )
    return "yes", saving, 100 * saving / gateway if gateway else None, basis


def _spot_saving(ctx: _Context):
    machines = ctx.of_type("aws:sfn/stateMachine:StateMachine")
    backtest = next(
        (b for m in machines if (b := _backtest_task(json.loads(m.inputs.get("definition") or "{}"), ctx))), None
    )
    if backtest is None:
        raise _Unpriced("the plan runs no backtest task")
    task, spot_share = backtest
    vcpu, gb, arch = _task_size(task)
    hours = ctx.usage.backtest_runs_per_month * ctx.usage.backtest_task_hours
    on_demand, _ = _fargate_cost(vcpu, gb, arch, hours, 0.0, ctx)
    spot, _ = _fargate_cost(vcpu, gb, arch, hours, 1.0, ctx)
    in_plan = "yes" if spot_share == 1 else "no" if spot_share == 0 else f"{spot_share:.0%} of tasks"
    basis = f"{_qty(hours)} backtest task-h (assumptions) on FARGATE ${on_demand:,.2f} vs FARGATE_SPOT ${spot:,.2f}" + (
        "" if spot_share else "; the plan runs them on FARGATE"
    )
    saving = on_demand - spot
    return in_plan, saving, 100 * saving / on_demand if on_demand else None, basis


def _rds_parts(r, ctx: _Context, multi: bool, klass: str | None = None) -> float:
    inputs = {
        **r.inputs,
        "multiAz": multi,
        "manageMasterUserPassword": False,
        **({"instanceClass": klass} if klass else {}),
    }
    return sum(usd for _, usd, _ in _rds_instance(r._replace(inputs=inputs), ctx))


def _the_database(ctx: _Context):
    databases = ctx.of_type("aws:rds/instance:Instance")
    if not databases:
        raise _Unpriced("the plan has no RDS instance")
    return databases[0]


def _single_az_saving(ctx: _Context):
    db = _the_database(ctx)
    single, multi = _rds_parts(db, ctx, False), _rds_parts(db, ctx, True)
    saving = multi - single
    klass = db.inputs.get("instanceClass")
    storage = _qty(float(db.inputs.get("allocatedStorage") or 0))
    basis = f"{klass} with {storage} GB: Multi-AZ ${multi:,.2f} vs single-AZ ${single:,.2f}"
    return ("no" if db.inputs.get("multiAz") else "yes"), saving, 100 * saving / multi if multi else None, basis


def _t4g_micro_cost(ctx: _Context):
    db = _the_database(ctx)
    micro = "db.t4g.micro"
    hourly = ctx.prices.price("rds", "instance_hour_single_az", micro)
    cost = ctx.hours * hourly
    klass = db.inputs.get("instanceClass")
    basis = f"{micro} single-AZ {_qty(ctx.hours)} h × {_usd(hourly)}"
    if klass != micro:
        planned = ctx.hours * ctx.prices.price("rds", "instance_hour_single_az", klass)
        basis += f"; the plan's {klass} single-AZ costs ${planned:,.2f}"
    return ("yes" if klass == micro else "no"), cost, None, basis


def _on_demand_saving(ctx: _Context):
    tables = ctx.of_type("aws:dynamodb/table:Table")
    if not tables:
        raise _Unpriced("the plan has no DynamoDB table")
    wcu, rcu = ctx.usage.dynamodb_provisioned_wcu_per_table, ctx.usage.dynamodb_provisioned_rcu_per_table
    provisioned = (
        len(tables)
        * ctx.hours
        * (
            wcu * ctx.prices.price("dynamodb", "provisioned_wcu_hour")
            + rcu * ctx.prices.price("dynamodb", "provisioned_rcu_hour")
        )
    )
    on_demand = ctx.usage.dynamodb_write_millions_per_month * ctx.prices.price(
        "dynamodb", "on_demand_million_writes"
    ) + ctx.usage.dynamodb_read_millions_per_month * ctx.prices.price("dynamodb", "on_demand_million_reads")
    on_demand_tables = sum(1 for t in tables if t.inputs.get("billingMode") == "PAY_PER_REQUEST")
    saving = provisioned - on_demand
    basis = (
        f"{len(tables)} tables provisioned at {_qty(wcu)} WCU + {_qty(rcu)} RCU each (assumptions) "
        f"${provisioned:,.2f} vs on-demand requests ${on_demand:,.2f}"
    )
    in_plan = "yes" if on_demand_tables == len(tables) else f"{on_demand_tables} of {len(tables)} tables"
    return in_plan, saving, 100 * saving / provisioned if provisioned else None, basis


def _lifecycle_saving(ctx: _Context):
    buckets = ctx.of_type("aws:s3/bucket:Bucket")
    if not buckets:
        raise _Unpriced("the plan has no S3 bucket")
    standard, ia = ctx.prices.price("s3", "standard_gb_month"), ctx.prices.price("s3", "standard_ia_gb_month")
    gb = ctx.usage.s3_storage_gb_per_bucket
    with_rules = without_rules = 0.0
    ruled = 0
    for bucket in buckets:
        with_rules += sum(usd for _, usd, _ in _bucket(bucket, ctx))
        name = bucket.inputs.get("bucket") or bucket.outputs.get("bucket")
        versioned = (
            ctx.bucket_config("aws:s3/bucketVersioning:BucketVersioning", name).get("versioningConfiguration") or {}
        ).get("status") == "Enabled"
        without_rules += gb * standard + (_superseded_kept_gb([], ctx)[0] * standard if versioned else 0.0)
        ruled += bool(ctx.bucket_config("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", name))
    saving = without_rules - with_rules
    basis = (
        f"{len(buckets)} buckets of {_qty(gb)} GB (assumption): without rules ${without_rules:,.2f} "
        f"(all STANDARD, 12 months of superseded versions) vs with the planned rules ${with_rules:,.2f} "
        f"(STANDARD_IA at {_usd(ia)})"
    )
    in_plan = "yes" if ruled == len(buckets) else f"{ruled} of {len(buckets)} buckets"
    return in_plan, saving, 100 * saving / without_rules if without_rules else None, basis


# ----- the chart ----------------------------------------------------------------------------------------------------


def short_type(resource_type: str) -> str:
    """aws:rds/instance:Instance -> rds Instance."""
    module, _, kind = resource_type.partition(":")[2].partition(":")
    return f"{module.split('/')[0]} {kind}"


def cost_chart(estimate: CostEstimate, top_types: int = 8):
    """A matplotlib Figure: monthly cost per stack as horizontal bars stacked by resource type (the costliest
    `top_types` types by name, the rest as "other")."""
    from matplotlib.figure import Figure

    per_type = estimate.per_type()
    figure = Figure(figsize=(10, 0.9 * max(len(estimate.stacks), 2) + 1.6), layout="constrained")
    axes = figure.subplots()
    if per_type.empty:
        axes.text(0.5, 0.5, "nothing priced", ha="center", va="center", transform=axes.transAxes)
        return figure
    per_type = per_type.assign(label=per_type["type"].map(short_type))
    ranked = per_type.groupby("label")["monthly_usd"].sum().sort_values(ascending=False)
    keep = list(ranked.index[:top_types])
    per_type["label"] = per_type["label"].where(per_type["label"].isin(keep), "other")
    table = per_type.pivot_table(
        index="stack", columns="label", values="monthly_usd", aggfunc="sum", fill_value=0.0
    ).reindex(index=list(reversed(estimate.stacks)), fill_value=0.0)
    columns = keep + (["other"] if "other" in table.columns else [])
    left = [0.0] * len(table)
    for column in columns:
        values = table[column].tolist()
        axes.barh(table.index, values, left=left, label=column)
        left = [a + b for a, b in zip(left, values, strict=True)]
    for y, total in enumerate(left):
        axes.text(total, y, f"  ${total:,.0f}", va="center")
    axes.set_xlabel(f"USD per month ({estimate.prices.region} list prices of {estimate.prices.as_of})")
    axes.set_title(
        f"Monthly cost per stack by resource type: {estimate.environment}, ${estimate.total_usd:,.0f} in all"
    )
    axes.set_xlim(0, max(left) * 1.18 or 1)
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small", title="resource type")
    return figure
