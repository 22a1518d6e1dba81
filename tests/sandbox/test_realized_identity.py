"""Identity, audit, discovery and Lambda wiring made from the local plan: the Cognito user pool, its resource
server, client and domain, the audit trail, the database secret's rotation, the Cloud Map namespace and services, the
role policy attachments, the Lambda permissions and the backtest queue's event source mapping exist in the sandbox
under their planned names with their planned inputs, and the rehearsal state's ids, ARNs and exports name them."""

from __future__ import annotations

import json
import re

from tradai_nb.sandbox.realizers import discovery, identity, wiring

PLAN_ID = re.compile(r"[0-9a-f]{17}")
KINDS = sorted(
    {*identity.REALIZERS, *discovery.REALIZERS, *wiring.REALIZERS, "aws:iam/rolePolicyAttachment:RolePolicyAttachment"}
)


def test_realized__the_rehearsal_state_carries_the_sandbox_s_ids_of_these_kinds(rehearsal):
    held = {kind: rehearsal.resources(kind) for kind in KINDS}

    assert [kind for kind, resources in held.items() if not resources] == []
    # The plan's mock ids are 17 hex digits; the sandbox's are pool and client ids, ARNs, statement ids, UUIDs.
    assert {k: [r["urn"] for r in rs if PLAN_ID.fullmatch(r["id"])] for k, rs in held.items()} == {k: [] for k in KINDS}


def test_realized__the_user_pool_has_its_planned_policy_and_mfa_and_the_exports_name_it(sandbox, rehearsal):
    cognito = sandbox.session.client("cognito-idp")
    [pool] = rehearsal.of("persistent", "aws:cognito/userPool:UserPool")
    held = cognito.describe_user_pool(UserPoolId=pool["id"])["UserPool"]
    exports = rehearsal.exports("persistent")

    assert held["Name"] == pool["inputs"]["name"] and held["Arn"] == pool["outputs"]["arn"]
    assert held["Policies"]["PasswordPolicy"]["MinimumLength"] == pool["inputs"]["passwordPolicy"]["minimumLength"]
    assert (
        cognito.get_user_pool_mfa_config(UserPoolId=pool["id"])["MfaConfiguration"]
        == pool["inputs"]["mfaConfiguration"]
    )
    assert (exports["cognito_user_pool_id"], exports["cognito_user_pool_arn"]) == (pool["id"], held["Arn"])
    assert exports["cognito_user_pool_endpoint"].endswith("/" + pool["id"])


def test_realized__the_m2m_client_has_its_planned_flows_and_scopes_and_no_secret_in_the_state(sandbox, rehearsal):
    cognito = sandbox.session.client("cognito-idp")
    [client] = rehearsal.of("persistent", "aws:cognito/userPoolClient:UserPoolClient")
    held = cognito.describe_user_pool_client(UserPoolId=client["inputs"]["userPoolId"], ClientId=client["id"])[
        "UserPoolClient"
    ]
    state = json.dumps(rehearsal.checkpoint("persistent"))

    assert held["ClientName"] == client["inputs"]["name"]
    assert held["AllowedOAuthFlows"] == client["inputs"]["allowedOauthFlows"]
    assert sorted(held["AllowedOAuthScopes"]) == sorted(client["inputs"]["allowedOauthScopes"])
    assert rehearsal.exports("persistent")["cognito_m2m_client_id"] == client["id"]
    assert held["ClientSecret"] and held["ClientSecret"] not in state


def test_realized__the_resource_server_and_domain_are_in_the_planned_pool(sandbox, rehearsal):
    cognito = sandbox.session.client("cognito-idp")
    [server] = rehearsal.of("persistent", "aws:cognito/resourceServer:ResourceServer")
    [domain] = rehearsal.of("persistent", "aws:cognito/userPoolDomain:UserPoolDomain")
    [pool] = rehearsal.of("persistent", "aws:cognito/userPool:UserPool")
    held = cognito.describe_resource_server(UserPoolId=pool["id"], Identifier=server["inputs"]["identifier"])

    assert {s["ScopeName"] for s in held["ResourceServer"]["Scopes"]} == {
        s["scopeName"] for s in server["inputs"]["scopes"]
    }
    assert cognito.describe_user_pool_domain(Domain=domain["id"])["DomainDescription"]["UserPoolId"] == pool["id"]


def test_realized__the_trail_logs_into_its_planned_bucket(sandbox, rehearsal):
    cloudtrail = sandbox.session.client("cloudtrail")
    [trail] = rehearsal.of("persistent", "aws:cloudtrail/trail:Trail")
    held = cloudtrail.get_trail(Name=trail["id"])["Trail"]

    assert held["Name"] == trail["inputs"]["name"] and held["TrailARN"] == trail["id"]
    assert (held["S3BucketName"], held["S3KeyPrefix"]) == (
        trail["inputs"]["s3BucketName"],
        trail["inputs"]["s3KeyPrefix"],
    )
    assert held["IsMultiRegionTrail"] and held["LogFileValidationEnabled"]
    assert cloudtrail.get_trail_status(Name=trail["id"])["IsLogging"]
    assert rehearsal.exports("persistent")["cloudtrail_arn"] == held["TrailARN"]


def test_realized__the_database_secret_rotates_on_its_planned_schedule(sandbox, rehearsal):
    [rotation] = rehearsal.of("foundation", "aws:secretsmanager/secretRotation:SecretRotation")
    held = sandbox.session.client("secretsmanager").describe_secret(SecretId=rotation["id"])

    assert held["ARN"] == rotation["inputs"]["secretId"] == rehearsal.exports("foundation")["rds_secret_arn"]
    assert held["RotationEnabled"]
    assert (
        held["RotationRules"]["AutomaticallyAfterDays"] == rotation["inputs"]["rotationRules"]["automaticallyAfterDays"]
    )


def test_realized__the_namespace_holds_the_planned_discovery_services(sandbox, rehearsal):
    discovery_api = sandbox.session.client("servicediscovery")
    [namespace] = rehearsal.of("compute", "aws:servicediscovery/privateDnsNamespace:PrivateDnsNamespace")
    services = rehearsal.of("compute", "aws:servicediscovery/service:Service")
    held = discovery_api.get_namespace(Id=namespace["id"])["Namespace"]

    assert (held["Name"], held["Type"]) == (namespace["inputs"]["name"], "DNS_PRIVATE")
    assert len(services) == 4
    for service in services:
        found = discovery_api.get_service(Id=service["id"])["Service"]
        assert found["Name"] == service["inputs"]["name"]
        assert found["DnsConfig"]["NamespaceId"] == service["inputs"]["dnsConfig"]["namespaceId"] == namespace["id"]
        assert found["DnsConfig"]["RoutingPolicy"] == service["inputs"]["dnsConfig"]["routingPolicy"]


def test_realized__the_managed_policies_are_attached_to_their_roles(sandbox, rehearsal):
    iam = sandbox.session.client("iam")
    attachments = rehearsal.resources("aws:iam/rolePolicyAttachment:RolePolicyAttachment")

    assert len(attachments) == 2
    for attachment in attachments:
        held = iam.list_attached_role_policies(RoleName=attachment["inputs"]["role"])["AttachedPolicies"]
        assert attachment["inputs"]["policyArn"] in {p["PolicyArn"] for p in held}


def test_realized__each_permission_lets_its_planned_principal_invoke_from_its_source(sandbox, rehearsal):
    lambda_ = sandbox.session.client("lambda")
    permissions = rehearsal.of("compute", "aws:lambda/permission:Permission")

    assert len(permissions) == 7
    for permission in permissions:
        inputs = permission["inputs"]
        policy = json.loads(lambda_.get_policy(FunctionName=inputs["function"])["Policy"])
        [statement] = [s for s in policy["Statement"] if s["Sid"] == permission["id"]]
        assert statement["Principal"] == {"Service": inputs["principal"]}
        assert statement["Action"] == inputs["action"]
        assert statement["Condition"]["ArnLike"]["AWS:SourceArn"] == inputs["sourceArn"]


def test_realized__the_backtest_consumer_reads_the_backtest_queue_in_planned_batches(sandbox, rehearsal):
    lambda_ = sandbox.session.client("lambda")
    [mapping] = rehearsal.of("compute", "aws:lambda/eventSourceMapping:EventSourceMapping")
    inputs = mapping["inputs"]
    held = lambda_.list_event_source_mappings(FunctionName=inputs["functionName"])["EventSourceMappings"]

    assert [(m["UUID"], m["EventSourceArn"], m["BatchSize"]) for m in held] == [
        (mapping["id"], rehearsal.exports("foundation")["backtest_queue_arn"], inputs["batchSize"])
    ]
