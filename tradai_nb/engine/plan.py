"""The offline plan: stack programs run under Pulumi's mock runtime, chained in dependency order."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from tradai_nb import config
from tradai_nb.errors import PlanError
from tradai_nb.settings import Settings
from tradai_nb.stacks.common import MissingUpstreamOutputError, stack_reference_name
from tradai_nb.stacks.registry import StackSpec, stacks

ACCOUNT_ID = config.PLAN_ACCOUNT_ID
STACK_REFERENCE = "pulumi:pulumi:StackReference"
RESOURCE_COLUMNS = [
    "stack",
    "type",
    "name",
    "urn",
    "parent",
    "custom",
    "protect",
    "retain_on_delete",
    "inputs",
    "id",
    "outputs",
    "dependencies",
]

# ID prefixes AWS uses, so planned IDs read like the real thing.
_ID_PREFIX = {
    "aws:ec2/vpc:Vpc": "vpc-",
    "aws:ec2/subnet:Subnet": "subnet-",
    "aws:ec2/securityGroup:SecurityGroup": "sg-",
    "aws:ec2/routeTable:RouteTable": "rtb-",
    "aws:ec2/internetGateway:InternetGateway": "igw-",
    "aws:ec2/networkAcl:NetworkAcl": "acl-",
    "aws:ec2/vpcEndpoint:VpcEndpoint": "vpce-",
    "aws:ec2/launchTemplate:LaunchTemplate": "lt-",
    "aws:ec2/networkInterface:NetworkInterface": "eni-",
    "aws:ec2/eip:Eip": "eipalloc-",
    "aws:ec2/flowLog:FlowLog": "fl-",
}
# Inputs that carry a resource's physical name, by resource type convention.
_NAME_INPUTS = ("name", "bucket", "functionName", "identifier", "clusterName", "domain", "repository")
# Invokes the stacks make, answered deterministically.
_AMI_TOKENS = {"aws:ec2/getAmi:getAmi"}


def _digest(*parts: str, length: int = 17) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:length]


class PlanMocks:
    """Deterministic answers for resources and invokes: the same input always gives the same output."""

    def __init__(self, settings: Settings, stack: str, upstream_exports: Mapping[str, Mapping[str, Any]]) -> None:
        self.settings = settings
        self.stack = stack
        self.upstream_exports = upstream_exports
        self.referenced: dict[str, str] = {}  # stack reference name -> upstream stack

    def new_resource(self, args) -> tuple[str, dict]:
        if args.typ == STACK_REFERENCE:
            return self._stack_reference(args)
        region = self.settings.aws_region
        resource_id = _ID_PREFIX.get(args.typ, "") + _digest(self.settings.environment, self.stack, args.typ, args.name)
        module, _, kind = args.typ.partition(":")[2].partition(":")
        service = module.split("/")[0]
        physical = next((args.inputs[k] for k in _NAME_INPUTS if args.inputs.get(k)), f"{args.name}-{resource_id[-7:]}")
        state = {
            **args.inputs,
            "id": resource_id,
            "name": physical,
            "arn": f"arn:aws:{service}:{region}:{ACCOUNT_ID}:{kind.lower()}/{physical}",
        }
        state.update(_computed_attributes(args.typ, physical, resource_id, region))
        return state["id"], state  # computed attributes may give the id its AWS shape (user pools)

    def _stack_reference(self, args) -> tuple[str, dict]:
        name = args.inputs.get("name", args.name)
        by_reference = {stack_reference_name(s, self.settings.environment): s for s in self.upstream_exports}
        if name not in by_reference:
            raise PlanError(
                f"stack {self.stack!r} references {name!r}, which is not one of its planned upstream stacks "
                f"({', '.join(by_reference) or 'none'})",
                stack=self.stack,
            )
        self.referenced[name] = by_reference[name]
        return name, {"name": name, "outputs": dict(self.upstream_exports[by_reference[name]]), "secretOutputNames": []}

    def call(self, args) -> tuple[dict, list]:
        token = args.token
        region = self.settings.aws_region
        if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            zones = list(self.settings.availability_zones)
            return {"names": zones, "zoneIds": [f"euc1-az{i + 1}" for i in range(len(zones))], "id": region}, []
        if token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": ACCOUNT_ID,
                "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/plan",
                "userId": "PLAN",
                "id": ACCOUNT_ID,
            }, []
        if token in ("aws:index/getRegion:getRegion", "aws:index/region:Region"):
            return {
                "name": region,
                "region": region,
                "id": region,
                "description": region,
                "endpoint": f"ec2.{region}.amazonaws.com",
            }, []
        if token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}, []
        if token in _AMI_TOKENS:
            return {
                "id": "ami-" + _digest(str(args.args.get("nameRegex", "")), str(args.args.get("filters", ""))),
                "architecture": "arm64",
            }, []
        if token == "aws:ssm/getParameter:getParameter":
            return {
                "value": "ami-" + _digest(str(args.args.get("name"))),
                "id": args.args.get("name"),
                "type": "String",
            }, []
        raise PlanError(
            f"the offline plan has no answer for the invoke {token} made by stack {self.stack!r}", stack=self.stack
        )


def _computed_attributes(typ: str, physical: str, resource_id: str, region: str) -> dict[str, Any]:
    """Attributes AWS computes that downstream resources read (URLs, endpoints, DNS names)."""
    if typ == "aws:ecr/repository:Repository":
        return {"repositoryUrl": f"{ACCOUNT_ID}.dkr.ecr.{region}.amazonaws.com/{physical}"}
    if typ == "aws:sqs/queue:Queue":
        return {
            "url": f"https://sqs.{region}.amazonaws.com/{ACCOUNT_ID}/{physical}",
            "arn": f"arn:aws:sqs:{region}:{ACCOUNT_ID}:{physical}",
        }
    if typ == "aws:sns/topic:Topic":
        return {"arn": f"arn:aws:sns:{region}:{ACCOUNT_ID}:{physical}"}
    if typ == "aws:s3/bucket:Bucket" or typ == "aws:s3/bucketV2:BucketV2":
        return {
            "bucket": physical,
            "arn": f"arn:aws:s3:::{physical}",
            "bucketDomainName": f"{physical}.s3.amazonaws.com",
        }
    if typ == "aws:dynamodb/table:Table":
        return {
            "arn": f"arn:aws:dynamodb:{region}:{ACCOUNT_ID}:table/{physical}",
            "streamArn": f"arn:aws:dynamodb:{region}:{ACCOUNT_ID}:table/{physical}/stream/plan",
        }
    if typ == "aws:lb/loadBalancer:LoadBalancer":
        return {
            "dnsName": f"{physical}-{resource_id[:8]}.{region}.elb.amazonaws.com",
            "zoneId": "Z215JYRZR1TBD5",
            "arnSuffix": f"app/{physical}/{resource_id[:16]}",
        }
    if typ == "aws:lb/targetGroup:TargetGroup":
        return {"arnSuffix": f"targetgroup/{physical}/{resource_id[:16]}"}
    if typ == "aws:rds/instance:Instance":
        return {
            "address": f"{physical}.{resource_id[:12]}.{region}.rds.amazonaws.com",
            "endpoint": f"{physical}.{resource_id[:12]}.{region}.rds.amazonaws.com:5432",
            "port": 5432,
            # The secret RDS creates for a managed master password (manage_master_user_password).
            "masterUserSecrets": [
                {
                    "secretArn": f"arn:aws:secretsmanager:{region}:{ACCOUNT_ID}:secret:rds!db-{resource_id[:12]}",
                    "secretStatus": "active",
                }
            ],
        }
    if typ == "aws:cognito/userPool:UserPool":
        pool_id = f"{region}_{resource_id[:9]}"
        return {
            "id": pool_id,
            "endpoint": f"cognito-idp.{region}.amazonaws.com/{pool_id}",
            "arn": f"arn:aws:cognito-idp:{region}:{ACCOUNT_ID}:userpool/{pool_id}",
        }
    if typ == "aws:apigatewayv2/api:Api":
        return {
            "apiEndpoint": f"https://{resource_id[:10]}.execute-api.{region}.amazonaws.com",
            "executionArn": f"arn:aws:execute-api:{region}:{ACCOUNT_ID}:{resource_id[:10]}",
        }
    if typ == "aws:iam/role:Role" or typ == "aws:iam/instanceProfile:InstanceProfile" or typ == "aws:iam/policy:Policy":
        kind = typ.rsplit(":", 1)[1]
        kind = kind[0].lower() + kind[1:]
        return {"arn": f"arn:aws:iam::{ACCOUNT_ID}:{kind.replace('instanceProfile', 'instance-profile')}/{physical}"}
    if typ == "aws:ecs/cluster:Cluster":
        return {"arn": f"arn:aws:ecs:{region}:{ACCOUNT_ID}:cluster/{physical}"}
    if typ == "aws:lambda/function:Function":
        return {
            "arn": f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{physical}",
            "invokeArn": f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/"
            f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{physical}/invocations",
        }
    if typ == "aws:kms/key:Key":
        return {"arn": f"arn:aws:kms:{region}:{ACCOUNT_ID}:key/{resource_id}", "keyId": resource_id}
    if typ == "aws:secretsmanager/secret:Secret":
        return {"arn": f"arn:aws:secretsmanager:{region}:{ACCOUNT_ID}:secret:{physical}-{resource_id[:6]}"}
    if typ == "aws:cloudwatch/logGroup:LogGroup":
        return {"arn": f"arn:aws:logs:{region}:{ACCOUNT_ID}:log-group:{physical}"}
    if typ == "aws:servicediscovery/privateDnsNamespace:PrivateDnsNamespace":
        return {"hostedZone": "Z" + resource_id[:13].upper()}
    if typ == "aws:sfn/stateMachine:StateMachine":
        return {"arn": f"arn:aws:states:{region}:{ACCOUNT_ID}:stateMachine:{physical}"}
    return {}


@dataclass
class StackPlan:
    """The planned resources and exports of one stack."""

    name: str
    resources: pd.DataFrame
    exports: dict[str, Any]
    upstream: tuple[str, ...] = ()


@dataclass
class Plan:
    """The offline plan of one or more stacks of an environment."""

    environment: str
    stacks: list[StackPlan] = field(default_factory=list)

    @property
    def resources(self) -> pd.DataFrame:
        """All planned resources: stack, type, name, urn, parent, custom, protect, retain_on_delete, inputs, and the
        mock's id, outputs and dependencies (what a deployment's state would record)."""
        frames = [s.resources for s in self.stacks if not s.resources.empty]
        if not frames:
            return pd.DataFrame(columns=RESOURCE_COLUMNS)
        return pd.concat(frames, ignore_index=True)

    @property
    def exports(self) -> dict[str, dict[str, Any]]:
        return {s.name: s.exports for s in self.stacks}

    def stack(self, name: str) -> StackPlan:
        for plan in self.stacks:
            if plan.name == name:
                return plan
        raise PlanError(
            f"the plan holds no stack {name!r}; it holds {', '.join(s.name for s in self.stacks)}", stack=name
        )

    def summary(self) -> pd.DataFrame:
        """Resource counts by stack and type (custom resources only)."""
        frame = self.resources
        frame = frame[frame["custom"].astype(bool)]
        if frame.empty:
            return pd.DataFrame(
                {"stack": pd.Series(dtype=str), "type": pd.Series(dtype=str), "count": pd.Series(dtype=int)}
            )
        return frame.groupby(["stack", "type"], sort=False).size().rename("count").reset_index()

    def to_dict(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "stacks": [
                {
                    "name": s.name,
                    "resources": [
                        {"type": r.type, "name": r.name, "urn": r.urn, "parent": r.parent, "inputs": r.inputs}
                        for r in s.resources.itertuples(index=False)
                    ],
                    "exports": s.exports,
                }
                for s in self.stacks
            ],
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False, default=str)


def plan(
    settings: Settings, stack_names: Sequence[str] | None = None, *, on_progress: Callable[[str], None] | None = None
) -> Plan:
    """Plan the named stacks (all four when None), each fed by the planned exports of its upstream stacks;
    `on_progress` hears of each stack as it starts and of the end."""
    requested = list(stack_names) if stack_names else list(stacks.names())
    specs: list[StackSpec] = []
    for name in requested:
        for spec in stacks.with_upstreams(name):
            if spec not in specs:
                specs.append(spec)
    specs = [spec for spec in stacks if spec in specs]  # dependency order
    exports: dict[str, dict[str, Any]] = {}
    result = Plan(settings.environment)
    for number, spec in enumerate(specs, 1):
        if on_progress:
            on_progress(f"planning {spec.name} ({number}/{len(specs)})")
        stack_plan = plan_stack(settings, spec, {u: exports[u] for u in spec.upstream})
        exports[spec.name] = stack_plan.exports
        if spec.name in requested:
            result.stacks.append(stack_plan)
    if on_progress:
        on_progress(f"planned {', '.join(s.name for s in specs)} in {settings.environment}")
    return result


def plan_stack(settings: Settings, spec: StackSpec, upstream_exports: Mapping[str, Mapping[str, Any]]) -> StackPlan:
    """Run one stack's program under the mock runtime and collect what it registers and exports."""
    return plan_program(settings, spec.name, spec.program(settings), upstream_exports, upstream=spec.upstream)


def plan_program(
    settings: Settings,
    name: str,
    program: Callable[[], None],
    upstream_exports: Mapping[str, Mapping[str, Any]],
    *,
    upstream: tuple[str, ...] = (),
) -> StackPlan:
    """Run a Pulumi program as stack `name` (project tradai-<name>) under the mock runtime."""
    from tradai_nb.engine import mock_runtime

    mocks = PlanMocks(settings, name, upstream_exports)
    try:
        registrations, outputs = mock_runtime.run(
            program, mocks, project=config.get_stack_project(name), stack=settings.environment
        )
    except PlanError:
        raise
    except Exception as exc:
        raise _explain(exc, name, mocks) from exc
    rows = [
        {
            "stack": name,
            "type": r.type,
            "name": r.name,
            "urn": r.urn,
            "parent": r.parent,
            "custom": r.custom,
            "protect": r.protect,
            "retain_on_delete": r.retain_on_delete,
            "inputs": r.inputs,
            "id": r.id,
            "outputs": r.outputs,
            "dependencies": sorted(r.dependencies),
        }
        # mock_runtime.run returns dependency order with ties broken by URN: stable, and what a checkpoint needs.
        for r in registrations
        if r.type != STACK_REFERENCE
    ]
    return StackPlan(name, pd.DataFrame(rows, columns=RESOURCE_COLUMNS), outputs, upstream)


def _explain(exc: Exception, stack: str, mocks: PlanMocks) -> PlanError:
    if isinstance(exc, MissingUpstreamOutputError):
        return PlanError(
            f"{exc}; export it from stack {exc.upstream!r} or stop reading it in stack {exc.consumer!r}",
            stack=exc.consumer,
            upstream=exc.upstream,
            key=exc.key,
        )
    return PlanError(f"planning stack {stack!r} failed: {type(exc).__name__}: {exc}", stack=stack)
