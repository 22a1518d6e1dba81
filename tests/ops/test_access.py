"""Service access: the host by its tag, SSM commands, access command lines, endpoints and health checks."""

from __future__ import annotations

import http.server
import threading

import pytest

from tradai_nb import config
from tradai_nb.errors import CheckFailedError, OperationError, ParameterError
from tradai_nb.ops import access
from tradai_nb.settings import load_settings

pytestmark = pytest.mark.sandbox


def _host_instance_id(sandbox) -> str:
    group = sandbox.session.client("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=[config.get_consolidated_name("local")])["AutoScalingGroups"][0]
    return group["Instances"][0]["InstanceId"]


@pytest.fixture
def stopped_namesake(sandbox):
    """A second instance with the host's Name tag, stopped: the runbooks must not pick it. Terminated after."""
    ec2 = sandbox.session.client("ec2")
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, TagSpecifications=[{
        "ResourceType": "instance", "Tags": [{"Key": "Name", "Value": config.get_consolidated_name("local")}]}],
    )["Instances"][0]["InstanceId"]
    ec2.stop_instances(InstanceIds=[instance])
    try:
        yield instance
    finally:
        ec2.terminate_instances(InstanceIds=[instance])


def test_find_consolidated_instance__the_running_instance_with_the_name_tag(sandbox, stopped_namesake):
    host = access.find_consolidated_instance(sandbox.session, sandbox.settings)

    assert host.instance_id == _host_instance_id(sandbox) != stopped_namesake
    assert host.name == config.get_consolidated_name("local")
    assert host.instance_type == sandbox.settings.consolidated_instance_type


def test_access_commands__consolidated_host_gets_the_ssm_session_line(sandbox):
    commands = dict(access.access_commands(sandbox.session, sandbox.settings).itertuples(index=False))

    assert commands["shell on the host"] == (
        f"aws ssm start-session --target {_host_instance_id(sandbox)} --region eu-central-1 "
        f"--endpoint-url {sandbox.endpoint_url}"
    )
    assert commands["on the host: restart the services"] == "cd /opt/tradai && sudo docker-compose restart"


def test_access_commands__prod_gets_ecs_exec_lines_per_service(stubbed, with_stubs):
    # moto does not implement ECS execute-command; only list_tasks is called, answered through Stubber
    # (which checks each request against the real ECS model) because prod settings never reach the sandbox.
    client, stubber = stubbed("ecs")
    task = "arn:aws:ecs:eu-central-1:123456789012:task/tradai-prod/0f1e2d3c4b5a69788796a5b4c3d2e1f0"
    for service in config.SERVICES:
        tasks = [task] if service == "backend" else []
        stubber.add_response("list_tasks", {"taskArns": tasks}, {
            "cluster": "tradai-prod", "serviceName": config.get_service_name(service, "prod"), "desiredStatus": "RUNNING"})

    commands = dict(access.access_commands(with_stubs({"ecs": client}), load_settings("prod")).itertuples(index=False))

    assert commands["backend: shell in the container"] == (
        f"aws ecs execute-command --cluster tradai-prod --task {task} --container backend-api --interactive "
        '--command "/bin/sh" --profile tradai --region eu-central-1'
    )
    assert "--task <task-arn> --container mlflow " in commands["mlflow: shell in the container"]
    assert commands["mlflow: running tasks"] == (
        "aws ecs list-tasks --cluster tradai-prod --service-name tradai-mlflow-prod --profile tradai --region eu-central-1")


@pytest.fixture
def ssm_requests(sandbox):
    """The SendCommand requests the code under test makes through the sandbox session, as sent."""
    requests = []

    def record(params, **_):
        requests.append(params)

    sandbox.session.events.register("before-parameter-build.ssm.SendCommand", record)
    try:
        yield requests
    finally:
        sandbox.session.events.unregister("before-parameter-build.ssm.SendCommand", record)


def test_docker_logs__round_trip_through_ssm_send_command(sandbox, ssm_requests):
    result = access.docker_logs(sandbox.session, sandbox.settings, "strategy-service", 20, timeout_s=10)

    host = _host_instance_id(sandbox)
    assert [(r["InstanceIds"], r["DocumentName"], r["Parameters"]) for r in ssm_requests] == [
        ([host], "AWS-RunShellScript", {"commands": ["docker logs strategy-service --tail 20 2>&1"]})]
    ssm = sandbox.session.client("ssm")
    sent = ssm.list_commands(CommandId=result.command_id)["Commands"][0]
    assert sent["Parameters"]["commands"] == ["docker logs strategy-service --tail 20 2>&1"]
    assert ssm.get_command_invocation(CommandId=result.command_id, InstanceId=host)["Status"] == "Success"
    assert (result.instance_id, result.status, result.exit_code) == (host, "Success", 0)
    assert str(result).startswith(f"docker logs strategy-service --tail 20 2>&1\nSuccess (exit code 0) on {host}")


@pytest.mark.parametrize("service, expected", [
    ("all", "cd /opt/tradai && docker-compose restart"),
    ("backend", "cd /opt/tradai && docker-compose restart backend"),
], ids=["all", "one-service"])
def test_restart_services__runs_compose_restart_in_the_compose_dir(sandbox, ssm_requests, service, expected):
    access.restart_services(sandbox.session, sandbox.settings, service, timeout_s=10)

    assert [r["Parameters"]["commands"] for r in ssm_requests] == [[expected]]


def test_run_on_host__a_failed_command_raises_with_what_it_printed(sandbox, stubbed, with_stubs):
    # moto reports every command as Success with no output; Stubber (checked against the real SSM model) plays an
    # invocation that is not registered yet, then running, then failed. The host lookup goes to the sandbox.
    client, stubber = stubbed("ssm")
    host = _host_instance_id(sandbox)
    stubber.add_response("send_command", {"Command": {"CommandId": "5f1d3c2b-0000-4000-8000-00000000c0de"}})
    expected = {"CommandId": "5f1d3c2b-0000-4000-8000-00000000c0de", "InstanceId": host}
    stubber.add_client_error("get_command_invocation", "InvocationDoesNotExist", expected_params=expected)
    stubber.add_response("get_command_invocation", {"Status": "InProgress"}, expected)
    stubber.add_response("get_command_invocation", {
        "Status": "Failed", "ResponseCode": 1, "StandardOutputContent": "",
        "StandardErrorContent": "Error: No such container: backend-api"}, expected)

    with pytest.raises(OperationError, match="ended Failed \\(exit code 1\\).*\n.*No such container: backend-api"):
        access.run_on_host(with_stubs({"ssm": client}, fallback=sandbox.session), sandbox.settings,
                           ["docker logs backend-api --tail 5"], timeout_s=10, poll_s=0)


@pytest.mark.parametrize("action", ["docker-ps", "docker-logs", "restart"])
def test_host_actions__refused_where_there_is_no_consolidated_host(action, untouchable_session):
    with pytest.raises(ParameterError, match="ECS Fargate"):
        access.check_parameters(load_settings("prod"), action=action, service="backend", tail_lines=50,
                                alb_dns_name="", confirm="prod", timeout_s=60)


def test_service_endpoints__match_config(sandbox):
    endpoints = access.service_endpoints(sandbox.settings, "tradai-alb-dev-1.eu-central-1.elb.amazonaws.com")

    assert list(endpoints["service"]) == list(config.SERVICES)
    for row in endpoints.itertuples():
        spec = config.SERVICES[row.service]
        assert (row.container, row.port, row.path) == (spec["container"], spec["port"], spec["path"])
        assert row.health_path == config.HEALTH_CHECK_PATHS[row.service]
        assert row.url == f"http://tradai-alb-dev-1.eu-central-1.elb.amazonaws.com{row.health_path}"


class _HealthHandler(http.server.BaseHTTPRequestHandler):
    answers = {"/api/health": 200, "/strategy/health": 503}

    def do_GET(self):  # noqa: N802 (the name http.server calls)
        self.send_response(self.answers.get(self.path, 404))
        self.end_headers()
        self.wfile.write(b'{"status": "ok"}')

    def log_message(self, *args):
        pass


@pytest.fixture
def health_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _HealthHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_check_health__a_row_per_service_with_status_or_error(sandbox, health_server):
    health = access.check_health(sandbox.settings, health_server, timeout_s=5).set_index("service")

    assert health.loc["backend", ["status", "ok", "error"]].tolist() == [200, True, ""]
    assert health.loc["strategy-service", ["status", "ok", "error"]].tolist() == [503, False, "HTTP 503 Service Unavailable"]
    assert health.loc["mlflow", ["status", "ok"]].tolist() == [404, False]
    assert health.loc["data-collection", "url"] == f"http://{health_server}/data/health"


def test_check_health__unreachable_alb_is_a_row_with_the_error(sandbox, free_port):
    health = access.check_health(sandbox.settings, f"127.0.0.1:{free_port}", timeout_s=2)

    assert list(health["service"]) == list(config.SERVICES)
    assert not health["ok"].any()
    assert health["error"].str.startswith("unreachable:").all()


def test_check_health__without_an_alb_name_each_row_says_where_to_find_it(sandbox):
    health = access.check_health(sandbox.settings, "")

    assert not health["ok"].any()
    assert health["error"].str.contains("compute stack's output alb_dns_name").all()


@pytest.mark.parametrize("alb_dns_name", ["alb.example.com/api", "ftp://alb.example.com", "alb example", "http://", 7],
                         ids=["path", "scheme", "space", "no-host", "number"])
def test_base_url__refuses_what_is_not_an_alb_name(alb_dns_name):
    with pytest.raises(ParameterError, match="parameter 'alb_dns_name'"):
        access.base_url(alb_dns_name)


@pytest.mark.parametrize("tail_lines", [0, 10_001, "50", 2.5], ids=["zero", "too-many", "text", "fraction"])
def test_check_parameters__bad_tail_lines_is_refused(sandbox, tail_lines):
    with pytest.raises(ParameterError, match="parameter 'tail_lines'"):
        access.check_parameters(sandbox.settings, action="docker-logs", service="backend", tail_lines=tail_lines,
                                alb_dns_name="", confirm="", timeout_s=60)


def test_check_parameters__docker_logs_needs_one_service(sandbox):
    with pytest.raises(ParameterError, match="name a service") as caught:
        access.check_parameters(sandbox.settings, action="docker-logs", service="all", tail_lines=50,
                                alb_dns_name="", confirm="", timeout_s=60)
    assert caught.value.name == "service"


@pytest.mark.parametrize("alb_dns_name, expected", [
    ("tradai-alb-dev-1.eu-central-1.elb.amazonaws.com", "http://tradai-alb-dev-1.eu-central-1.elb.amazonaws.com"),
    ("https://api.tradai.io/", "https://api.tradai.io"),
    (" 127.0.0.1:8080 ", "http://127.0.0.1:8080"),
    ("", ""),
], ids=["dns-name", "https-with-slash", "host-and-port", "none"])
def test_base_url__accepts_an_alb_name_with_or_without_scheme(alb_dns_name, expected):
    assert access.base_url(alb_dns_name) == expected


def test_run_action__endpoints_runs_nothing_on_the_host(sandbox, ssm_requests):
    shown = access.run_action(sandbox.session, sandbox.settings, action="endpoints")

    assert shown == "action 'endpoints': nothing was run on the host"
    assert ssm_requests == []


@pytest.mark.parametrize("parameters, expected", [
    ({"action": "docker-ps"}, "docker ps --all --format 'table {{.Names}}\\t{{.Image}}\\t{{.Status}}'"),
    ({"action": "docker-logs", "service": "mlflow", "tail_lines": 7}, "docker logs mlflow --tail 7 2>&1"),
    ({"action": "restart", "service": "backend"}, "cd /opt/tradai && docker-compose restart backend"),
    ({"action": "restart"}, "cd /opt/tradai && docker-compose restart"),
], ids=["docker-ps", "docker-logs", "restart-one", "restart-all"])
def test_run_action__a_host_action_sends_its_one_command_with_the_parameters(sandbox, ssm_requests, parameters,
                                                                              expected):
    shown = access.run_action(sandbox.session, sandbox.settings, timeout_s=10, **parameters)

    assert [r["Parameters"]["commands"] for r in ssm_requests] == [[expected]]
    assert isinstance(shown, access.CommandResult)
    assert (shown.commands, shown.instance_id, shown.status) == ((expected,), _host_instance_id(sandbox), "Success")


def test_run_action__health_checks_each_service_behind_the_given_alb(sandbox, health_server, ssm_requests):
    shown = access.run_action(sandbox.session, sandbox.settings, action="health", alb_dns_name=health_server)

    assert list(shown.columns) == access.HEALTH_COLUMNS
    assert shown.set_index("service").loc["backend", "status"] == 200
    assert ssm_requests == []
    with pytest.raises(CheckFailedError, match="strategy-service: HTTP 503"):
        access.check_result("health", shown)


@pytest.mark.parametrize("action", ["reboot", "Restart", "", None], ids=repr)
def test_run_action__an_unknown_action_is_refused_naming_the_choices_before_any_aws_call(action, untouchable_session):
    with pytest.raises(ParameterError, match="parameter 'action': .* is not one of endpoints, docker-ps, docker-logs, "
                                             "restart, health") as caught:
        access.run_action(untouchable_session, load_settings("local"), action=action)

    assert caught.value.name == "action"
    untouchable_session.client.assert_not_called()


def test_shell_commands__each_command_line_under_its_purpose(sandbox):
    text = access.shell_commands(sandbox.session, sandbox.settings)

    blocks = text.split("\n\n")
    table = access.access_commands(sandbox.session, sandbox.settings)
    assert blocks == [f"# {purpose}\n{command}" for purpose, command in table.itertuples(index=False)]
    assert f"# shell on the host\naws ssm start-session --target {_host_instance_id(sandbox)} " in text
