"""The known errors in one catalogue: how each one reads, its cause, its fix and the runbook that helps."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, overload

from tradai_nb.errors import ParameterError

INSTALL_DOCS_URL = "https://www.pulumi.com/docs/install/"
# A whole `pulumi up` log fits with room to spare; more is a file pasted by mistake.
MAX_ERROR_TEXT_CHARS = 200_000
# How much of the pasted text around a match is shown back, each side.
EXCERPT_CONTEXT_CHARS = 40
TABLE_COLUMNS = ["id", "title", "cause", "fix", "runbook"]
MATCH_COLUMNS = ["id", "title", "matched", "cause", "fix", "runbook"]
# Placeholders a fix or runbook may hold; the error mapping fills in the ones it knows.
PLACEHOLDERS = ("stack", "env", "action", "profile", "service")


@dataclass(frozen=True)
class Entry:
    """One known error: `patterns` (regexes, case-insensitive, ^ at each line) recognise it in error text; `fix` and
    `runbook` may hold <stack>, <env>, <action>, <profile>, <service>; `sample` is the error as the tools print it. A
    `fallback` entry is offered only when no other entry matches."""

    id: str
    title: str
    patterns: tuple[str, ...]
    cause: str
    fix: str
    runbook: str
    sample: str
    fallback: bool = False
    _compiled: tuple[re.Pattern[str], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_compiled", tuple(re.compile(p, re.IGNORECASE | re.MULTILINE) for p in self.patterns))

    def matches(self, text: str) -> list[re.Match[str]]:
        """The first match of each pattern that occurs in the text."""
        return [m for m in (pattern.search(text) for pattern in self._compiled) if m is not None]

    def fix_for(self, **values: str | None) -> str:
        return _filled(self.fix, values)

    def runbook_for(self, **values: str | None) -> str:
        return _filled(self.runbook, values)

    def advice(self, **values: str | None) -> str:
        """ "Fix: ... Runbook: ..." — what every mapped error message ends with."""
        return f"Fix: {self.fix_for(**values)}. Runbook: {self.runbook_for(**values)}."


@dataclass(frozen=True)
class Match:
    """An entry found in error text, with the excerpts that matched (secrets scrubbed) and its score."""

    entry: Entry
    excerpts: tuple[str, ...]
    score: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.entry.id,
            "title": self.entry.title,
            "matched": list(self.excerpts),
            "cause": self.entry.cause,
            "fix": self.entry.fix,
            "runbook": self.entry.runbook,
        }


def _filled(text: str, values: Mapping[str, str | None]) -> str:
    for name, value in values.items():
        if name not in PLACEHOLDERS:
            raise ValueError(f"unknown placeholder {name!r}; known: {', '.join(PLACEHOLDERS)}")
        if value:
            text = text.replace(f"<{name}>", value)
    return text


ENTRIES: tuple[Entry, ...] = (
    Entry(
        id="stack-locked",
        title="Stack locked by another update",
        patterns=(
            r"the stack is currently locked by \d+ lock\(s\)",
            r"Another update is currently in progress",
            r"\[409\] Conflict",
        ),
        cause="another update holds the stack's lock file on the backend (.pulumi/locks/...), or one that died left "
        "it behind",
        fix="if the update holding the lock still runs, wait for it to end. If it died, inspect and remove the lock "
        "with the state locks runbook (action='list', then action='clear' with stack and confirm) or cancel it "
        "(the stack notebook's action='cancel', or `tradai-nb stack cancel --stack <stack> --env <env> --confirm "
        "<env>`; --confirm is needed in staging and prod), then retry",
        runbook="notebooks/runbooks/state_locks.ipynb",
        sample="error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or "
        "delete the lock file with `pulumi cancel`.\n  s3://tradai-pulumi-state-dev/.pulumi/locks/organization/"
        "tradai-compute/dev/3e1f7c2a-9b4d-4e8a-a6f1-0c5d2b7e9a41.json: created by ana@laptop-3 (pid 4242) at "
        "2026-03-01T10:00:00Z",
    ),
    Entry(
        id="stack-not-found",
        title="Stack not found",
        patterns=(r"no stack named '[^']+' found", r"stack '[^']+' not found"),
        cause="the stack was never created on this environment's backend, or pulumi_backend_url points elsewhere",
        fix="deploy it first with action='up' (`just infra-up-<stack> <env>`, or `tradai-nb stack up --stack <stack> "
        "--env <env>`), or create it empty with `tradai-nb stack init --stack <stack> --env <env>` (the guide's "
        "`pulumi stack init dev`); if it should exist, check pulumi_backend_url in params/<env>.yaml",
        runbook="tradai-nb stack ls --env <env>",
        sample="error: no stack named 'organization/tradai-edge/dev' found",
    ),
    Entry(
        id="stack-already-exists",
        title="Stack created by someone else at the same moment",
        patterns=(r"stack '[^']+' already exists",),
        cause="two runs created the same stack at once; the other one won",
        fix="run action='<action>' again: it selects the stack that now exists",
        runbook="tradai-nb stack ls --env <env>",
        sample="error: stack 'organization/tradai-edge/dev' already exists",
    ),
    Entry(
        id="passphrase-missing",
        title="Pulumi passphrase not set",
        patterns=(
            r"passphrase must be set",
            r"passphrase must be set with PULUMI_CONFIG_PASSPHRASE",
            r"secrets passphrase is not set",
            r"PULUMI_CONFIG_PASSPHRASE_FILE names .+, which is not a file",
        ),
        cause="the passphrase secrets provider needs PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE, and "
        "the shell that started tradai-nb (or JupyterLab) has neither",
        fix="export PULUMI_CONFIG_PASSPHRASE, or PULUMI_CONFIG_PASSPHRASE_FILE (the path of a file holding it), in the "
        "shell that starts tradai-nb or JupyterLab (the guide's `source infra/.env`); it is read only from the "
        "environment, never from a parameter or a notebook cell",
        runbook="tradai-nb doctor",
        sample="error: passphrase must be set with PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE "
        "environment variables",
    ),
    Entry(
        id="passphrase-incorrect",
        title="Wrong Pulumi passphrase",
        # "could not deserialize deployment: ..." wraps it: the longer pattern wins over the corrupt-state entry.
        patterns=(
            r"incorrect passphrase",
            r"failed to decrypt",
            r"(?:secrets manager|decrypt)\b[^\n]*?incorrect passphrase",
        ),
        cause="the passphrase set does not open the stack's secrets provider: the state was sealed with another one",
        fix="set PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) to the passphrase this environment's "
        "stacks were created with; to move a stack to a new passphrase, run `pulumi stack "
        "change-secrets-provider passphrase` with the old one still set",
        runbook="tradai-nb doctor",
        sample='error: could not deserialize deployment: constructing secrets manager of type "passphrase": '
        "incorrect passphrase",
    ),
    Entry(
        id="state-corrupt",
        title="Corrupt stack state (unable to deserialize)",
        patterns=(
            r"could not deserialize deployment",
            r"unable to deserialize",
            r"is not a version \d+ Pulumi checkpoint",
        ),
        cause="the stack's checkpoint on the backend is damaged or not a Pulumi checkpoint (a partial write, a hand "
        "edit)",
        fix="restore the stack's state from a backup: the rollback runbook with mode='state-import', stack='<stack>' "
        "(backup_id='' lists the backups; the state backup runbook verifies one first), or `tradai-nb stack import "
        "--stack <stack> --env <env> --file <backup.json>`",
        runbook="notebooks/runbooks/rollback.ipynb",
        sample="error: could not deserialize deployment: invalid character '}' looking for beginning of object key "
        "string",
    ),
    Entry(
        id="resource-already-exists",
        title="Resource already exists",
        patterns=(r"already exists", r"AlreadyExists", r"AlreadyOwnedByYou", r"ResourceInUseException"),
        cause="the resource is in AWS but not in this stack's state: orphaned by an interrupted or failed run, or made "
        "by hand",
        fix="adopt it into the stack with `tradai-nb stack import-resource --stack <stack> --env <env>` (Pulumi's "
        "`pulumi import <type> <name> <id>`, e.g. `pulumi import aws:ecr/repository:Repository backend "
        "tradai/backend`), or, when nothing needs it, delete it in AWS; then run action='up' again",
        runbook="tradai-nb stack import-resource",
        sample="error: 1 error occurred:\n\t* creating ECR Repository (tradai/backend): operation error ECR: "
        "CreateRepository, https response error StatusCode: 400, RequestID: "
        "0f9a3c1e-7b2d-4a5e-9c8f-1d2e3f4a5b6c, RepositoryAlreadyExistsException: The repository with name "
        "'tradai/backend' already exists in the registry with id '123456789012'",
    ),
    Entry(
        id="image-not-found",
        title="Container image not found",
        patterns=(
            r"Source image \S+ does not exist",
            r"CannotPullContainerError",
            r"ImageNotFoundException",
            r"image\(s\) in use are missing from ECR",
            r"manifest unknown",
        ),
        cause="a Lambda function or ECS service points at an image tag that was never pushed to ECR (or was deleted)",
        fix="push it: `just service-push <service>` (or `tradai-nb images push <service> --env <env>`); the Lambda "
        "images with `just lambda-bootstrap` (or `tradai-nb images push-all --lambdas --env <env>`); then deploy "
        "compute again or force a new deployment (`just ecs-force-deploy <service>`)",
        runbook="notebooks/runbooks/images.ipynb",
        sample="error: 1 error occurred:\n\t* creating Lambda Function (tradai-drift-monitor-dev): operation error "
        "Lambda: CreateFunction, https response error StatusCode: 400, RequestID: "
        "5c1d2e3f-4a5b-6c7d-8e9f-0a1b2c3d4e5f, InvalidParameterValueException: Source image "
        "123456789012.dkr.ecr.eu-central-1.amazonaws.com/tradai/drift-monitor:latest does not exist. Provide a "
        "valid source image.",
    ),
    Entry(
        id="no-credentials",
        title="No valid AWS credential sources",
        patterns=(
            r"No valid credential sources",
            r"NoCredentialProviders",
            r"Unable to locate credentials",
            r"Partial credentials found",
            r"The config profile \([^)]*\) could not be found",
            r"no usable AWS credentials",
        ),
        cause="no AWS credentials for the environment's profile on this machine: not logged in, or the profile is "
        "not configured",
        fix="log in with `aws sso login --profile <profile>` (the profile is aws_profile in params/<env>.yaml), or "
        "configure it with `aws configure --profile <profile>`; check with `aws sts get-caller-identity "
        "--profile <profile>`",
        runbook="tradai-nb doctor",
        sample="error: unable to validate AWS credentials.\nDetails: No valid credential sources found.\nPlease see "
        "https://www.pulumi.com/registry/packages/aws/installation-configuration/ for more information about "
        "providing credentials.",
    ),
    Entry(
        id="expired-token",
        title="AWS credentials expired",
        patterns=(
            r"ExpiredToken",
            r"security token included in the request is expired",
            r"credentials are invalid or have expired",
            r"Failed to refresh cached (SSO )?credentials",
            r"Token has expired and refresh failed",
        ),
        cause="the SSO session or the temporary credentials behind the profile have expired",
        fix="log in again with `aws sso login --profile <profile>`, then run the same action again",
        runbook="tradai-nb doctor",
        sample="An error occurred (ExpiredToken) when calling the GetCallerIdentity operation: The security token "
        "included in the request is expired",
    ),
    Entry(
        id="access-denied",
        title="AWS access denied",
        patterns=(
            r"AccessDenied",
            r"UnauthorizedOperation",
            r"is not authorized to perform",
            r"AuthFailure",
            r"InvalidClientTokenId",
            r"UnrecognizedClientException",
            r"SignatureDoesNotMatch",
            r"InvalidSignatureException",
            r"security token included in the request is invalid",
        ),
        cause="AWS knows who you are but your role lacks the permission, or the keys belong to another account",
        fix="check who you are (`aws sts get-caller-identity --profile <profile>`), that your role has this "
        "permission, and that you chose the right environment (--env <env>) and profile (aws_profile in "
        "params/<env>.yaml)",
        runbook="tradai-nb doctor",
        sample="An error occurred (AccessDeniedException) when calling the DescribeServices operation: User: "
        "arn:aws:sts::123456789012:assumed-role/tradai-dev-readonly/ana is not authorized to perform: "
        "ecs:DescribeServices on resource: arn:aws:ecs:eu-central-1:123456789012:service/tradai-dev/"
        "tradai-backend-dev because no identity-based policy allows the ecs:DescribeServices action",
    ),
    Entry(
        id="throttling",
        title="AWS throttling requests",
        patterns=(
            r"\bThrottling(Exception)?\b",
            r"TooManyRequestsException",
            r"RequestLimitExceeded",
            r"\bSlowDown\b",
            r"Rate exceeded",
        ),
        cause="too many calls to one AWS API in a short time (several runs at once, or a tight polling loop)",
        fix="wait a minute and run the same action again (the same `tradai-nb run <notebook> --env <env>` or `just` "
        "recipe); AWS clients already retry, so a failure means the rate stayed high: run fewer actions against "
        "<env> at once",
        runbook="tradai-nb run <notebook> --env <env>",
        sample="An error occurred (ThrottlingException) when calling the DescribeServices operation (reached max "
        "retries: 4): Rate exceeded",
    ),
    Entry(
        id="quota-exceeded",
        title="AWS quota or limit exceeded",
        patterns=(
            r"(?<!Request)LimitExceeded",
            r"ServiceQuotaExceeded",
            r"QuotaExceeded",
            r"TooManyBuckets",
            r"maximum number of \w+ (has|have) been reached",
        ),
        cause="the account reached a service quota in this region (Elastic IPs, VPCs, vCPUs, buckets, ...)",
        fix="see the quota with `aws service-quotas list-service-quotas --service-code <code> --profile <profile>`; "
        "free what is unused (a dev compute or edge stack can go: `tradai-nb stack destroy --stack <stack> --env "
        "dev`) or request more with `aws service-quotas request-service-quota-increase --service-code <code> "
        "--quota-code <quota> --desired-value <n>`",
        runbook="tradai-nb plan --env <env>",
        sample="error: 1 error occurred:\n\t* creating EC2 EIP: operation error EC2: AllocateAddress, https response "
        "error StatusCode: 400, RequestID: 7d8e9f0a-1b2c-3d4e-5f6a-7b8c9d0e1f2a, api error "
        "AddressLimitExceeded: The maximum number of addresses has been reached.",
    ),
    Entry(
        id="ssm-agent",
        title="SSM agent not registering",
        patterns=(
            r"TargetNotConnected",
            r"InvalidInstanceId",
            r"not in a valid state for account",
            r"SSM agent on the host",
        ),
        cause="the consolidated host's SSM agent is missing or cannot reach Systems Manager (a custom AMI without "
        "the agent, or the SSM endpoint or package buckets unreachable)",
        fix="redeploy the compute stack, whose user data installs the agent from the S3 RPM (`just infra-up-compute "
        "<env>`), then replace the host (`just asg-refresh`); if the install itself fails, see the S3/dnf 403 "
        "entry",
        runbook="notebooks/runbooks/service_access.ipynb",
        sample="An error occurred (TargetNotConnected) when calling the StartSession operation: i-0a1b2c3d4e5f67890 "
        "is not connected.",
    ),
    Entry(
        id="s3-dnf-403",
        title="S3/dnf 403 errors on EC2",
        patterns=(
            r"Status code: 403 for https?://\S*(al2023-repos|amazonlinux-2-repos|amazon-ssm|aws-ssm)",
            r"Failed to download metadata for repo",
            r"The requested URL returned error: 403",
        ),
        cause="the S3 VPC endpoint policy is too restrictive: instances behind it cannot read the OS package and SSM "
        "agent buckets",
        fix="check the AllowSystemPackageBuckets statement of the S3 endpoint policy "
        "(tradai_nb/stacks/foundation/vpc_endpoints.py, system_package_buckets) for the region, then "
        "`tradai-nb stack preview --stack foundation --env <env>` and deploy foundation (`just infra-up-foundation "
        "<env>`)",
        runbook="notebooks/runbooks/drift.ipynb",
        sample="Errors during downloading metadata for repository 'amazonlinux':\n  - Status code: 403 for "
        "https://al2023-repos-eu-central-1-de612dc2.s3.dualstack.eu-central-1.amazonaws.com/core/mirrors/"
        "2023.6.20241010/aarch64/mirror.list (IP: 52.219.170.50)\nError: Failed to download metadata for repo "
        "'amazonlinux': Cannot download repomd.xml: Cannot download repodata/repomd.xml: All mirrors were tried",
    ),
    Entry(
        id="no-project-file",
        title="No Pulumi.yaml",
        patterns=(r"no Pulumi\.yaml",),
        cause="the bare Pulumi CLI ran outside a project folder; tradai-nb writes each stack's project settings itself",
        fix="run the stacks through tradai-nb (`tradai-nb stack <action> --stack <stack> --env <env>`, the `just "
        "infra-*` recipes or the stack notebooks); with the bare CLI, work in the stack's workspace "
        "(~/.tradai/workspaces/tradai-<stack>, or $TRADAI_HOME/workspaces/tradai-<stack>)",
        runbook="tradai-nb stack ls --env <env>",
        sample="error: no Pulumi.yaml project file found (searching upwards from /home/ana/src/tradai). If you have "
        "not created a project yet, use `pulumi new` to do so: no project file found",
    ),
    Entry(
        id="pulumi-cli-missing",
        title="Pulumi CLI missing",
        patterns=(
            r"Pulumi CLI is not installed",
            r"pulumi: command not found",
            r"Minimum version requirement failed",
            r"cannot be used with the pulumi SDK",
            r"could not install the Pulumi CLI",
        ),
        cause="preview, up, refresh, destroy, import and cancel drive the Pulumi CLI, and none (or one too old for the "
        "pulumi SDK) is installed",
        fix=f"run `tradai-nb setup` to install the CLI matching the pulumi SDK (pulumi.automation.PulumiCommand."
        f"install(), needs access to get.pulumi.com), or install it from {INSTALL_DOCS_URL} and put it on PATH; "
        "without it, action=plan shows offline what a stack would create",
        runbook="tradai-nb doctor",
        sample="tradai-nb: error: the Pulumi CLI is not installed (no `pulumi` on PATH, none in "
        "/home/ana/.pulumi/versions/3.200.0/bin), and action 'preview' needs it.",
    ),
    Entry(
        id="stack-program-failed",
        title="Stack program failed",
        patterns=(
            r"an unhandled error occurred",
            r"inline source runtime error",
            r"Program failed with an unhandled exception",
        ),
        cause="the stack's Python program raised while the Pulumi engine ran it (a missing stack output, a bad "
        "setting, a bug)",
        fix="reproduce it offline with action='plan' (`tradai-nb plan --stack <stack> --env <env>`), which runs the "
        "same program under Pulumi's mock runtime; the engine output above has the traceback",
        runbook="tradai-nb plan --stack <stack> --env <env>",
        sample="error: an unhandled error occurred: Program failed with an unhandled exception:\nKeyError: 'vpc_id'",
    ),
    Entry(
        id="endpoint-unreachable",
        title="AWS endpoint unreachable (sandbox not running)",
        patterns=(
            r"Could not connect to the endpoint URL",
            r"cannot reach the AWS endpoint",
            r"EndpointConnectionError",
        ),
        cause="the AWS endpoint did not answer: for --env local, the sandbox is not running; otherwise the network "
        "or a proxy is in the way",
        fix="for --env local, start the sandbox (`tradai-nb sandbox start`); otherwise check the network and the "
        "region in params/<env>.yaml",
        runbook="tradai-nb sandbox status",
        sample='Could not connect to the endpoint URL: "http://127.0.0.1:4566/"',
    ),
    Entry(
        id="sandbox-unsupported",
        title="AWS call the sandbox does not implement",
        patterns=(r"not an AWS response", r"Unable to parse response", r"has not been implemented in moto"),
        cause="the endpoint answered with something that is not an AWS response: the sandbox (moto) does not "
        "implement this call",
        fix="rehearse this step in dev instead of local (--env dev); the sandbox covers the read-only runbooks",
        runbook="tradai-nb sandbox status",
        sample="Unable to parse response (syntax error: line 1, column 0), invalid XML received. Further retries may "
        "succeed:\nb'<!doctype html><title>The method describe_instance_information has not been implemented "
        "in moto yet</title>'",
    ),
    Entry(
        id="aws-not-found",
        title="AWS resource not found",
        patterns=(r"\b\w*NotFound(Exception)?\b", r"\bNoSuch(Bucket|Key|Entity)\b", r"InvocationDoesNotExist"),
        cause="the named resource does not exist in this account and region: another environment, another region, "
        "or the stack that creates it is not deployed",
        fix="check that you chose the right environment (--env <env>) and region, and that the stack that creates "
        "it is deployed (`just infra-outputs <stack> <env>` shows what it exports)",
        runbook="notebooks/runbooks/outputs.ipynb",
        sample="An error occurred (ServiceNotFoundException) when calling the UpdateService operation: Service not "
        "found.",
    ),
    Entry(
        id="aws-call-failed",
        title="AWS call failed",
        # botocore's wording, and tradai-nb's own ("<step> failed (<code>: <message>)").
        patterns=(r"An error occurred \(\w+\) when calling the \w+ operation", r"\bfailed \([A-Z]\w+: "),
        cause="AWS refused the call for a reason named by its error code",
        fix="read the AWS error code and message; check the parameters and the resource's current state (the "
        "runbook's status table, or what differs from the stack: `tradai-nb run notebooks/runbooks/drift.ipynb "
        "--env <env>`)",
        runbook="notebooks/runbooks/drift.ipynb",
        sample="An error occurred (InvalidParameterException) when calling the UpdateService operation: "
        "TaskDefinition is inactive",
        fallback=True,
    ),
    Entry(
        id="pulumi-command-failed",
        title="Pulumi command failed",
        patterns=(r"error: update failed", r"^\s*error: ", r"\bcode: \d+\s+stdout:"),
        cause="the Pulumi CLI failed; the engine output names the resource and the reason",
        fix="read the engine output above for the resource and its reason; run it again with more detail "
        "(`tradai-nb stack <action> --stack <stack> --env <env> --verbose 9`, the guide's `-v=9 --logtostderr`, or "
        "`--debug`), and check AWS access for <env> and the backend",
        runbook="tradai-nb stack preview --stack <stack> --env <env> --verbose 9",
        sample="error: update failed",
        fallback=True,
    ),
)

_BY_ID = {entry.id: entry for entry in ENTRIES}


def entry(entry_id: str) -> Entry:
    """The catalogue entry with this id."""
    return _BY_ID[entry_id]


def find(text: str) -> list[Match]:
    """The entries whose patterns occur in the text, best first: the most text matched, ties in catalogue order.
    Fallback entries come only when nothing else matched. Secrets in the text never reach the excerpts."""
    from tradai_nb.redaction import scrub_credentials

    scrubbed = scrub_credentials(text)
    candidates = [_match(e, scrubbed) for e in ENTRIES if not e.fallback]
    found = [m for m in candidates if m is not None]
    if not found:
        found = [m for m in (_match(e, scrubbed) for e in ENTRIES if e.fallback) if m is not None]
    order = {e.id: i for i, e in enumerate(ENTRIES)}
    return sorted(found, key=lambda m: (-m.score, order[m.entry.id]))


@overload
def best(text: str, default: str) -> Entry: ...


@overload
def best(text: str, default: None = None) -> Entry | None: ...


def best(text: str, default: str | None = None) -> Entry | None:
    """The best entry for the text, else the entry `default` names (None without one)."""
    found = find(text)
    return found[0].entry if found else (entry(default) if default else None)


def _match(candidate: Entry, text: str) -> Match | None:
    hits = candidate.matches(text)
    if not hits:
        return None
    return Match(candidate, tuple(dict.fromkeys(_excerpt(text, hit) for hit in hits)), sum(len(hit[0]) for hit in hits))


def _excerpt(text: str, hit: re.Match[str]) -> str:
    start, end = max(0, hit.start() - EXCERPT_CONTEXT_CHARS), min(len(text), hit.end() + EXCERPT_CONTEXT_CHARS)
    piece = " ".join(text[start:end].split())
    return f"{'…' if start else ''}{piece}{'…' if end < len(text) else ''}"


def check_error_text(error_text: Any, name: str = "error_text") -> str:
    """The error text, refused (ParameterError naming `name`) unless it is a string of at most
    MAX_ERROR_TEXT_CHARS characters."""
    if not isinstance(error_text, str):
        raise ParameterError(
            f"parameter {name!r}: expected the error text as a string, got {type(error_text).__name__}", name=name
        )
    if len(error_text) > MAX_ERROR_TEXT_CHARS:
        raise ParameterError(
            f"parameter {name!r}: {len(error_text):,} characters is more than the "
            f"{MAX_ERROR_TEXT_CHARS:,} an error text may have; paste the lines around the first "
            "'error:' only",
            name=name,
        )
    return error_text


def check_parameters(*, error_text: Any) -> None:
    """Validate the troubleshoot runbook's parameters; an empty error_text asks for the whole catalogue."""
    check_error_text(error_text)


def headline(error_text: str) -> str:
    """One line saying what the troubleshoot runbook shows for this text."""
    if not error_text.strip():
        return f"no error text given: the whole catalogue, {len(ENTRIES)} known errors"
    found = find(error_text)
    if not found:
        return (
            f"nothing in the catalogue matches this text; the {len(ENTRIES)} known errors are below — run "
            "`tradai-nb doctor`, and read the first 'error:' line of the output"
        )
    return f"{len(found)} known error(s) match, best first: {found[0].entry.title}"


def catalogue_table(entries: Iterable[Entry] = ENTRIES):
    """The catalogue as a table: id, title, cause, fix, runbook."""
    import pandas as pd

    return pd.DataFrame([(e.id, e.title, e.cause, e.fix, e.runbook) for e in entries], columns=TABLE_COLUMNS)


def diagnosis_table(error_text: str):
    """What the troubleshoot runbook shows: the matches for the text (best first, with what matched), or the whole
    catalogue when the text is empty or nothing matches."""
    import pandas as pd

    found = find(error_text) if error_text.strip() else []
    if not found:
        return catalogue_table()
    return pd.DataFrame(
        [
            (m.entry.id, m.entry.title, " | ".join(m.excerpts), m.entry.cause, m.entry.fix, m.entry.runbook)
            for m in found
        ],
        columns=MATCH_COLUMNS,
    )
