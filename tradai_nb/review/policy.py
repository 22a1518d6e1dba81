"""Policy rules over planned resources: the estate's security and cost practices, each mandatory or advisory."""

from __future__ import annotations

import importlib
import json
import keyword
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

from tradai_nb import config
from tradai_nb.errors import PolicyViolationError
from tradai_nb.redaction import is_secret_name

if TYPE_CHECKING:
    import pandas as pd

    from tradai_nb.engine.plan import Plan
    from tradai_nb.settings import Settings

MANDATORY = "mandatory"
ADVISORY = "advisory"
LEVELS = (MANDATORY, ADVISORY)
VIOLATION_COLUMNS = ["rule", "level", "stack", "type", "name", "urn", "message"]
SUMMARY_COLUMNS = ["rule", "level", "violations", "description"]

ANYWHERE = ("0.0.0.0/0", "::/0")
# The only ports open to the world, and only on the load balancer's security group (foundation's `alb-sg`).
ALB_PUBLIC_PORTS = (80, 443)
ALB_SECURITY_GROUP = "alb-sg"
REQUIRED_TAGS = tuple(config.get_tags(environment="local"))
# The AWS managed policy that grants every action on every resource.
ADMINISTRATOR_POLICY_ARN = "arn:aws:iam::aws:policy/AdministratorAccess"
# The sandbox's provider keys are published test values (moto accepts any), not credentials.
PUBLIC_TEST_VALUES = frozenset({"testing"})
# Resources that hold data: the persistent stack's, and foundation's database and queues.
DATA_TYPES = frozenset(
    {
        "aws:s3/bucket:Bucket",
        "aws:s3/bucketV2:BucketV2",
        "aws:dynamodb/table:Table",
        "aws:ecr/repository:Repository",
        "aws:cognito/userPool:UserPool",
        "aws:codeartifact/domain:Domain",
        "aws:codeartifact/repository:Repository",
        "aws:rds/instance:Instance",
        "aws:rds/cluster:Cluster",
        "aws:sqs/queue:Queue",
    }
)
BUCKET_TYPES = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
PROVIDER_PREFIX = "pulumi:providers:"
# Values that look like credentials whatever their name: AWS access key ids, private keys, URLs with a password.
_SECRET_VALUE = re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b|-----BEGIN [A-Z ]*PRIVATE KEY-----|://[^/\s:@]+:[^/\s@]+@")
# A value that names where a secret lives rather than holding it.
_REFERENCE_VALUE = re.compile(r"^(arn:aws[\w-]*:(secretsmanager|ssm|kms):|\{\{resolve:)")


@dataclass(frozen=True)
class Resource:
    """One resource as a rule sees it: its stack, type, name, URN and inputs, its protection, the URNs it depends
    on, and its planned id (offline; empty under the CLI). `retain_on_delete` is None where it is not known (the
    Pulumi CLI does not pass it to policy packs)."""

    stack: str
    type: str
    name: str
    urn: str
    inputs: Mapping[str, Any]
    protect: bool = False
    retain_on_delete: bool | None = None
    dependencies: tuple[str, ...] = ()
    id: str = ""


@dataclass(frozen=True)
class ConfigEntry:
    """One stack config value; `secret` is None where it is not known (a provider's inputs under the CLI)."""

    stack: str
    key: str
    value: Any
    secret: bool | None


ResourceCheck = Callable[[Resource, str], Iterable[str]]
StackCheck = Callable[[Sequence[Resource], str], Iterable[tuple[Resource | None, str]]]


@dataclass(frozen=True)
class Rule:
    """A policy rule: name, level, what it asks for, and its check — over one resource (`resource_check`, yielding
    messages) or over a stack's resources (`stack_check`, yielding (resource or None, message))."""

    name: str
    level: str
    description: str
    resource_check: ResourceCheck | None = None
    stack_check: StackCheck | None = None


@dataclass(frozen=True)
class Violation:
    """A rule broken by a resource (or by the stack as a whole, `urn` empty)."""

    rule: str
    level: str
    stack: str
    type: str
    name: str
    urn: str
    message: str


@dataclass
class PolicyReport:
    """The result of checking stacks: every violation, and which stacks were checked."""

    environment: str
    stacks: tuple[str, ...]
    violations: list[Violation] = field(default_factory=list)

    @property
    def mandatory(self) -> list[Violation]:
        return [v for v in self.violations if v.level == MANDATORY]

    @property
    def advisory(self) -> list[Violation]:
        return [v for v in self.violations if v.level == ADVISORY]

    @property
    def passed(self) -> bool:
        """True when no mandatory rule is broken (advisory violations do not stop a change)."""
        return not self.mandatory

    def table(self) -> pd.DataFrame:
        """The violations: rule, level, stack, type, name, urn, message (with the fix); mandatory ones first."""
        import pandas as pd

        rows = sorted(self.violations, key=lambda v: (LEVELS.index(v.level), v.rule, v.stack, v.urn))
        return pd.DataFrame([v.__dict__ for v in rows], columns=VIOLATION_COLUMNS)

    def summary(self) -> pd.DataFrame:
        """One row per rule: its level, how many violations, and what it asks for."""
        import pandas as pd

        counts = {rule.name: 0 for rule in RULES}
        for violation in self.violations:
            counts[violation.rule] += 1
        return pd.DataFrame([(r.name, r.level, counts[r.name], r.description) for r in RULES], columns=SUMMARY_COLUMNS)

    def headline(self) -> str:
        """One line: what was checked and what was found."""
        verdict = (
            "passed"
            if not self.violations
            else "refused: mandatory rules broken"
            if self.mandatory
            else "passed with advisory findings"
        )
        return (
            f"policy check of {', '.join(self.stacks)} in {self.environment}: {len(RULES)} rules, "
            f"{len(self.mandatory)} mandatory and {len(self.advisory)} advisory violations — {verdict}"
        )

    def raise_if_refused(self, action: str = "up") -> None:
        """Raise PolicyViolationError naming each mandatory violation's resource, rule and fix."""
        if self.passed:
            return
        shown = self.mandatory[:10]
        lines = "; ".join(f"[{v.rule}] {v.stack} {v.type} {v.name!r}: {v.message}" for v in shown)
        more = f"; and {len(self.mandatory) - len(shown)} more" if len(self.mandatory) > len(shown) else ""
        raise PolicyViolationError(
            f"{action} refused: {len(self.mandatory)} mandatory policy violations in {', '.join(self.stacks)} "
            f"({self.environment}): {lines}{more}. Fix the stack program and run `tradai-nb policy check --env "
            f"{self.environment}` to see every violation",
            violations=[v.__dict__ for v in self.mandatory],
        )


# --- the checks ---------------------------------------------------------------------------------------------------


def _check_rds(resource: Resource, environment: str) -> Iterator[str]:
    if resource.type not in ("aws:rds/instance:Instance", "aws:rds/cluster:Cluster"):
        return
    if resource.inputs.get("publiclyAccessible") is True:
        yield "the database is publicly accessible: set publicly_accessible=False and keep it in the data subnets"
    if resource.inputs.get("storageEncrypted") is not True:
        yield "storage is not encrypted at rest: set storage_encrypted=True"


def _check_open_ingress(resources: Sequence[Resource], environment: str) -> Iterator[tuple[Resource, str]]:
    groups = {r.urn: r for r in resources if r.type == "aws:ec2/securityGroup:SecurityGroup"}
    groups_by_id = {r.id: r for r in groups.values() if r.id}
    for resource in resources:
        for rule, group in _ingress_rules(resource, groups, groups_by_id):
            open_to = [c for c in rule["cidrs"] if c in ANYWHERE]
            if not open_to:
                continue
            ports = (rule["from"], rule["to"])
            is_alb = group is not None and group.name == ALB_SECURITY_GROUP
            if is_alb and rule["protocol"] in ("tcp", "6") and ports[0] == ports[1] and ports[0] in ALB_PUBLIC_PORTS:
                continue
            where = f"security group {group.name!r}" if group is not None else "its security group"
            yield (
                resource,
                (
                    f"ingress from {', '.join(open_to)} on {rule['protocol']} {_ports(ports)} to {where}: "
                    f"only the load balancer's group ({ALB_SECURITY_GROUP}) may take 80 and 443 from the "
                    "internet; allow a source security group or a narrower CIDR instead"
                ),
            )


def _ingress_rules(
    resource: Resource, groups: Mapping[str, Resource], groups_by_id: Mapping[str, Resource]
) -> Iterator[tuple[dict, Resource | None]]:
    inputs = resource.inputs

    def group_of(group_id: Any) -> Resource | None:
        if isinstance(group_id, str) and group_id in groups_by_id:
            return groups_by_id[group_id]
        found = [groups[d] for d in resource.dependencies if d in groups]
        return found[0] if len(found) == 1 else None

    if resource.type == "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule":
        yield (
            {
                "cidrs": [c for c in (inputs.get("cidrIpv4"), inputs.get("cidrIpv6")) if c],
                "protocol": str(inputs.get("ipProtocol", "")),
                "from": inputs.get("fromPort"),
                "to": inputs.get("toPort"),
            },
            group_of(inputs.get("securityGroupId")),
        )
    elif resource.type == "aws:ec2/securityGroupRule:SecurityGroupRule" and inputs.get("type") == "ingress":
        yield (
            {
                "cidrs": [*(inputs.get("cidrBlocks") or []), *(inputs.get("ipv6CidrBlocks") or [])],
                "protocol": str(inputs.get("protocol", "")),
                "from": inputs.get("fromPort"),
                "to": inputs.get("toPort"),
            },
            group_of(inputs.get("securityGroupId")),
        )
    elif resource.type == "aws:ec2/securityGroup:SecurityGroup":
        for rule in inputs.get("ingress") or []:
            yield (
                {
                    "cidrs": [*(rule.get("cidrBlocks") or []), *(rule.get("ipv6CidrBlocks") or [])],
                    "protocol": str(rule.get("protocol", "")),
                    "from": rule.get("fromPort"),
                    "to": rule.get("toPort"),
                },
                resource,
            )


def _ports(ports: tuple[Any, Any]) -> str:
    low, high = (int(p) if isinstance(p, (int, float)) else p for p in ports)
    if low in (None, -1) and high in (None, -1):
        return "all ports"
    return f"port {low}" if low == high else f"ports {low}-{high}"


def _related(
    resources: Sequence[Resource], owner: Resource, types: tuple[str, ...], key: str, owner_value: Any
) -> list[Resource]:
    """The resources of `types` that belong to `owner`: they depend on it, or their `key` input names it."""
    return [
        r
        for r in resources
        if r.type in types
        and (owner.urn in r.dependencies or (owner_value not in (None, "") and r.inputs.get(key) == owner_value))
    ]


# A bucket's default encryption and its lifecycle, each in the provider's two forms.
ENCRYPTION_TYPES = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
)
LIFECYCLE_TYPES = (
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2",
)


def _rules(configurations: Sequence[Resource], keep: Callable[[dict[str, Any]], Any]) -> list[dict[str, Any]]:
    """The rules (the `rules` input) of the configurations that `keep` holds true of."""
    return [rule for r in configurations for rule in r.inputs.get("rules") or [] if keep(rule)]


def _check_buckets(resources: Sequence[Resource], kind: str) -> Iterator[tuple[Resource, str]]:
    for bucket in (r for r in resources if r.type in BUCKET_TYPES):
        physical = bucket.inputs.get("bucket") or bucket.id

        def has(types: tuple[str, ...], bucket: Resource = bucket, physical: Any = physical) -> list[Resource]:
            return _related(resources, bucket, types, "bucket", physical)

        if kind == "encryption":
            configured = _rules(
                has(ENCRYPTION_TYPES),
                lambda rule: (rule.get("applyServerSideEncryptionByDefault") or {}).get("sseAlgorithm"),
            )
            if not configured:
                yield (
                    bucket,
                    (
                        "no default encryption: add an aws.s3.BucketServerSideEncryptionConfiguration for the "
                        "bucket (sse_algorithm AES256 or aws:kms)"
                    ),
                )
        elif kind == "public-access-block":
            blocks = has(("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",))
            flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
            if not blocks:
                yield (
                    bucket,
                    (
                        "no public access block: add an aws.s3.BucketPublicAccessBlock for the bucket with all "
                        "four settings True"
                    ),
                )
            elif not any(all(b.inputs.get(f) is True for f in flags) for b in blocks):
                off = sorted({f for b in blocks for f in flags if b.inputs.get(f) is not True})
                yield bucket, f"the public access block leaves {', '.join(off)} off: set all four to True"
        elif kind == "lifecycle":
            rules = _rules(has(LIFECYCLE_TYPES), lambda rule: rule.get("status") == "Enabled")
            if not rules:
                yield (
                    bucket,
                    (
                        "no enabled lifecycle rule: add an aws.s3.BucketLifecycleConfiguration (abort "
                        "incomplete uploads, expire old versions) so the bucket cleans up after itself"
                    ),
                )


def _check_dynamodb_encryption(resource: Resource, environment: str) -> Iterator[str]:
    if (
        resource.type == "aws:dynamodb/table:Table"
        and (resource.inputs.get("serverSideEncryption") or {}).get("enabled") is not True
    ):
        yield "server-side encryption with KMS is off: set server_side_encryption={'enabled': True}"


def _check_dynamodb_on_demand(resource: Resource, environment: str) -> Iterator[str]:
    if resource.type == "aws:dynamodb/table:Table" and resource.inputs.get("billingMode") != "PAY_PER_REQUEST":
        yield (
            f"billing mode is {resource.inputs.get('billingMode') or 'PROVISIONED'}: set "
            "billing_mode='PAY_PER_REQUEST' (on demand, pay per use)"
        )


def _check_cloudtrail(resource: Resource, environment: str) -> Iterator[str]:
    if resource.type == "aws:cloudtrail/trail:Trail":
        if resource.inputs.get("enableLogFileValidation") is not True:
            yield "log file validation is off: set enable_log_file_validation=True so tampering shows"
        if resource.inputs.get("enableLogging") is False:
            yield "logging is turned off: remove enable_logging=False"


def _check_flow_logs(resources: Sequence[Resource], environment: str) -> Iterator[tuple[Resource, str]]:
    for vpc in (r for r in resources if r.type == "aws:ec2/vpc:Vpc"):
        logs = _related(resources, vpc, ("aws:ec2/flowLog:FlowLog",), "vpcId", vpc.id)
        if not logs:
            yield vpc, "the VPC has no flow log: add an aws.ec2.FlowLog for it (traffic_type ALL) to CloudWatch Logs"


def _check_waf(resources: Sequence[Resource], environment: str) -> Iterator[tuple[Resource | None, str]]:
    acls = [r for r in resources if r.type == "aws:wafv2/webAcl:WebAcl"]
    apis = [r for r in resources if r.type == "aws:apigatewayv2/api:Api"]
    associations = [r for r in resources if r.type == "aws:wafv2/webAclAssociation:WebAclAssociation"]
    for api in apis:
        if not acls:
            yield (
                api,
                (
                    "the stack serves a public API but declares no WAF: add an aws.wafv2.WebAcl with rate "
                    "limiting and associate it (aws.wafv2.WebAclAssociation) with the entry point behind the API"
                ),
            )
    for acl in acls:
        if not _related(associations, acl, ("aws:wafv2/webAclAssociation:WebAclAssociation",), "webAclArn", None):
            yield acl, "the WebACL is attached to nothing: add an aws.wafv2.WebAclAssociation for it"


def _check_plaintext_secrets(resource: Resource, environment: str) -> Iterator[str]:
    if resource.type == "aws:ecs/taskDefinition:TaskDefinition":
        definitions = resource.inputs.get("containerDefinitions")
        if isinstance(definitions, str):
            try:
                definitions = json.loads(definitions)
            except ValueError:
                definitions = []
        for container in definitions or []:
            for variable in container.get("environment") or []:
                problem = _plaintext_secret(str(variable.get("name", "")), variable.get("value"))
                if problem:
                    yield (
                        f"container {container.get('name')!r} has {problem} in its environment: move it to "
                        "`secrets` (valueFrom a Secrets Manager or SSM parameter ARN)"
                    )
    elif resource.type == "aws:lambda/function:Function":
        variables = (resource.inputs.get("environment") or {}).get("variables") or {}
        for name, value in sorted(variables.items()):
            problem = _plaintext_secret(name, value)
            if problem:
                yield (
                    f"the function's environment has {problem}: pass the secret's ARN instead and read it from "
                    "Secrets Manager at run time"
                )


def _plaintext_secret(name: str, value: Any) -> str | None:
    """What makes a variable a plaintext secret (its name and never its value), or None."""
    if not isinstance(value, str) or value.lower() in ("", "true", "false") or _REFERENCE_VALUE.match(value):
        return None
    if is_secret_name(name):
        return f"{name} (a secret by its name)"
    if _SECRET_VALUE.search(value):
        return f"{name} (its value looks like a credential)"
    return None


def check_config(entries: Iterable[ConfigEntry]) -> list[tuple[ConfigEntry, str]]:
    """Stack config values that hold a secret in plaintext: a secret name, or a value that looks like a credential,
    not stored as a Pulumi secret. Where secretness is not known, any secret-named value but the sandbox's public
    test keys counts."""
    found = []
    for entry in entries:
        if entry.secret or not isinstance(entry.value, str) or not entry.value:
            continue
        if entry.secret is None and entry.value in PUBLIC_TEST_VALUES:
            continue
        name = entry.key.rsplit(":", 1)[-1]
        problem = _plaintext_secret(name, entry.value)
        if problem:
            found.append(
                (
                    entry,
                    f"config {entry.key} holds {problem} in plaintext: keep secrets in AWS Secrets "
                    "Manager, or at least set it with `pulumi config set --secret`",
                )
            )
    return found


def _check_provider_config(resources: Sequence[Resource], environment: str) -> Iterator[tuple[Resource, str]]:
    for provider in (r for r in resources if r.type.startswith(PROVIDER_PREFIX)):
        entries = [
            ConfigEntry(provider.stack, f"{provider.type.removeprefix(PROVIDER_PREFIX)}:{key}", value, None)
            for key, value in sorted(provider.inputs.items())
        ]
        for _entry, message in check_config(entries):
            yield provider, message


@cache
def is_taggable(type_token: str) -> bool:
    """Whether a pulumi-aws resource type takes `tags` (read from the pinned SDK's Args class)."""
    package, module, kind = [*type_token.split(":"), "", ""][:3]
    if package != "aws" or not kind:
        return False
    python_module = module.split("/")[0]
    if keyword.iskeyword(python_module):  # aws:lambda/... lives in pulumi_aws.lambda_
        python_module += "_"
    name = "pulumi_aws" if python_module == "index" else f"pulumi_aws.{python_module}"
    try:
        args = getattr(importlib.import_module(name), f"{kind}Args", None)
    except ImportError:
        return False
    return args is not None and hasattr(args, "tags")


def _check_tags(resource: Resource, environment: str) -> Iterator[str]:
    if not is_taggable(resource.type):
        return
    tags = resource.inputs.get("tags")
    if isinstance(tags, list):  # autoscaling groups: [{"key", "value", "propagateAtLaunch"}]
        tags = {t.get("key"): t.get("value") for t in tags if isinstance(t, dict)}
    tags = tags if isinstance(tags, dict) else {}
    missing = [t for t in REQUIRED_TAGS if not tags.get(t)]
    if missing:
        yield (
            f"missing the tags {', '.join(missing)}: pass tags=config.get_tags(service=...) (Project, Environment, "
            "Service, ManagedBy)"
        )
    elif tags.get("Environment") != environment or tags.get("Project") != config.PROJECT_NAME:
        yield (
            f"tags say Project={tags.get('Project')!r}, Environment={tags.get('Environment')!r} in "
            f"{environment}: take them from config.get_tags(environment=...)"
        )


_IDENTITY_POLICIES = {
    "aws:iam/rolePolicy:RolePolicy": "policy",
    "aws:iam/policy:Policy": "policy",
    "aws:iam/userPolicy:UserPolicy": "policy",
    "aws:iam/groupPolicy:GroupPolicy": "policy",
}
_POLICY_ATTACHMENTS = (
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:iam/userPolicyAttachment:UserPolicyAttachment",
    "aws:iam/groupPolicyAttachment:GroupPolicyAttachment",
    "aws:iam/policyAttachment:PolicyAttachment",
)


def _check_iam_wildcards(resource: Resource, environment: str) -> Iterator[str]:
    documents: list[Any] = []
    if resource.type in _IDENTITY_POLICIES:
        documents.append(resource.inputs.get(_IDENTITY_POLICIES[resource.type]))
    elif resource.type == "aws:iam/role:Role":
        documents.extend(p.get("policy") for p in resource.inputs.get("inlinePolicies") or [])
    elif resource.type in _POLICY_ATTACHMENTS and resource.inputs.get("policyArn") == ADMINISTRATOR_POLICY_ARN:
        yield "attaches AdministratorAccess (every action on every resource): attach a policy naming what it needs"
    for document in documents:
        for statement in _statements(document):
            if statement.get("Effect", "Allow") != "Allow":
                continue
            actions, targets = _as_list(statement.get("Action")), _as_list(statement.get("Resource"))
            if any(a in ("*", "*:*") for a in actions) and "*" in targets:
                yield (
                    f"statement {statement.get('Sid') or '(no Sid)'} allows action * on resource *: name the "
                    "actions and the resources they act on (tradai_nb.stacks.policy.PolicyBuilder)"
                )


def _statements(document: Any) -> list[dict]:
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            return []
    if not isinstance(document, dict):
        return []
    statements = document.get("Statement")
    statements = [statements] if isinstance(statements, dict) else statements or []
    return [s for s in statements if isinstance(s, dict)]


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [] if value is None else [value]


def _check_protected(resource: Resource, environment: str) -> Iterator[str]:
    if resource.type not in DATA_TYPES or resource.protect:
        return
    if environment in config.PROTECTED_ENVIRONMENTS:
        yield (
            f"a data resource in {environment} must be protected: give it opts=data_options(settings) (or "
            "persistent_options in the persistent stack: protect=True in staging and prod)"
        )
    elif resource.stack == "persistent" and resource.retain_on_delete is False:
        yield (
            "a persistent resource neither protected nor retained on delete: give it "
            "opts=persistent_options(settings) (retain_on_delete where it is not protected)"
        )


RULES: tuple[Rule, ...] = (
    Rule(
        "rds-private-encrypted",
        MANDATORY,
        "RDS databases are not publicly accessible and encrypt their storage",
        resource_check=_check_rds,
    ),
    Rule(
        "no-open-ingress",
        MANDATORY,
        "no ingress from 0.0.0.0/0 or ::/0, except 80 and 443 on the ALB's group",
        stack_check=_check_open_ingress,
    ),
    Rule(
        "s3-encryption",
        MANDATORY,
        "every S3 bucket has default server-side encryption",
        stack_check=lambda resources, environment: _check_buckets(resources, "encryption"),
    ),
    Rule(
        "s3-public-access-block",
        MANDATORY,
        "every S3 bucket has a public access block with all four settings on",
        stack_check=lambda resources, environment: _check_buckets(resources, "public-access-block"),
    ),
    Rule(
        "s3-lifecycle",
        ADVISORY,
        "every S3 bucket has an enabled lifecycle rule (cost: automatic clean-up)",
        stack_check=lambda resources, environment: _check_buckets(resources, "lifecycle"),
    ),
    Rule(
        "dynamodb-encryption",
        MANDATORY,
        "DynamoDB tables encrypt at rest with KMS",
        resource_check=_check_dynamodb_encryption,
    ),
    Rule(
        "dynamodb-on-demand",
        ADVISORY,
        "DynamoDB tables bill on demand (cost: pay per use)",
        resource_check=_check_dynamodb_on_demand,
    ),
    Rule(
        "cloudtrail-log-validation",
        MANDATORY,
        "CloudTrail trails log, with log file validation",
        resource_check=_check_cloudtrail,
    ),
    Rule("vpc-flow-logs", MANDATORY, "every VPC has a flow log", stack_check=_check_flow_logs),
    Rule(
        "waf-attached",
        MANDATORY,
        "a stack serving a public API has a WAF WebACL, and every WebACL is attached",
        stack_check=_check_waf,
    ),
    Rule(
        "no-plaintext-secrets",
        MANDATORY,
        "no plaintext secrets in task definitions, Lambda environments or stack config",
        resource_check=_check_plaintext_secrets,
    ),
    Rule(
        "no-plaintext-secret-config",
        MANDATORY,
        "provider and stack config hold no plaintext secrets",
        stack_check=_check_provider_config,
    ),
    Rule(
        "required-tags",
        MANDATORY,
        f"every taggable resource carries {', '.join(REQUIRED_TAGS)}",
        resource_check=_check_tags,
    ),
    Rule(
        "iam-no-wildcard-admin",
        MANDATORY,
        "no IAM statement allows action * on resource *",
        resource_check=_check_iam_wildcards,
    ),
    Rule(
        "data-protected",
        MANDATORY,
        "data resources are protected in staging and prod; the persistent stack's are "
        "retained on delete where not protected",
        resource_check=_check_protected,
    ),
)
RULES_BY_NAME = {rule.name: rule for rule in RULES}
CONFIG_RULE = "no-plaintext-secret-config"


def check_resources(resources: Sequence[Resource], environment: str) -> list[Violation]:
    """Every rule over one stack's resources (or several stacks': stack rules then see them per stack)."""
    violations: list[Violation] = []
    by_stack: dict[str, list[Resource]] = {}
    for resource in resources:
        by_stack.setdefault(resource.stack, []).append(resource)
    for rule in RULES:
        if rule.resource_check is not None:
            for resource in resources:
                violations.extend(
                    _violation(rule, resource.stack, resource, m) for m in rule.resource_check(resource, environment)
                )
        if rule.stack_check is not None:
            for stack, members in by_stack.items():
                violations.extend(
                    _violation(rule, stack, resource, m) for resource, m in rule.stack_check(members, environment)
                )
    return violations


def _violation(rule: Rule, stack: str, resource: Resource | None, message: str) -> Violation:
    if resource is None:
        return Violation(rule.name, rule.level, stack, "", "", "", message)
    return Violation(rule.name, rule.level, stack, resource.type, resource.name, resource.urn, message)


def check_stack_config(environment: str, entries: Iterable[ConfigEntry]) -> list[Violation]:
    """The config rule over the config a stack is given."""
    rule = RULES_BY_NAME[CONFIG_RULE]
    return [Violation(rule.name, rule.level, e.stack, "", e.key, "", message) for e, message in check_config(entries)]


def plan_resources(plan: Plan) -> list[Resource]:
    """The plan's resources as the rules see them."""
    return [
        Resource(
            stack=r.stack,
            type=r.type,
            name=r.name,
            urn=r.urn,
            inputs=r.inputs,
            protect=bool(r.protect),
            retain_on_delete=bool(r.retain_on_delete),
            dependencies=tuple(r.dependencies),
            id=str(r.id or ""),
        )
        for r in plan.resources.itertuples(index=False)
        if r.custom
    ]


def check_plan(plan: Plan, settings: Settings) -> PolicyReport:
    """Check an offline plan, and the config each of its stacks would be given, against every rule."""
    from tradai_nb.engine.automation import stack_config

    violations = check_resources(plan_resources(plan), settings.environment)
    for stack_plan in plan.stacks:
        entries = [
            ConfigEntry(stack_plan.name, key, value.value, value.secret)
            for key, value in stack_config(settings, stack_plan.name).items()
        ]
        violations.extend(check_stack_config(settings.environment, entries))
    return PolicyReport(settings.environment, tuple(s.name for s in plan.stacks), violations)


def policy_check(settings: Settings, stacks: Sequence[str] | None = None) -> PolicyReport:
    """Plan the named stacks offline (all four when None) and check them."""
    from tradai_nb.engine.plan import plan

    return check_plan(plan(settings, list(stacks) if stacks else None), settings)


def require_policy(settings: Settings, stacks: Sequence[str], action: str = "up") -> Callable[[], None]:
    """A change gate check: refuse `action` when the stacks' plan breaks a mandatory rule."""

    def check() -> None:
        policy_check(settings, stacks).raise_if_refused(action)

    return check
