"""`tradai-nb images` (`just service-ecr-login`, `service-push`, `service-push-all`, `lambda-bootstrap`): Docker
checked before AWS is asked anything, the ECR password only ever on docker's stdin, each push through the gate."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from unittest import mock

import boto3
import pytest
from botocore.stub import Stubber

from tradai_nb import aws, config
from tradai_nb.aws import EnvironmentSession
from tradai_nb.cli import main
from tradai_nb.errors import EXIT_FAILED, EXIT_INVALID, EXIT_OK, EXIT_PREREQUISITE, EXIT_REFUSED
from tradai_nb.ops import image_push
from tradai_nb.records import audit
from tradai_nb.settings import PROJECT_ROOT

REGISTRY = "123456789012.dkr.ecr.eu-central-1.amazonaws.com"
# Shaped like a real ECR password (a long base64 blob), so that a leak in any form is found.
PASSWORD = "eyJwYXlsb2FkIjoiQ0xvRzFTaGx5TDV0cmFkYWktZWNyLXBhc3N3b3JkLXRlc3QiLCJ2ZXJzaW9uIjoiMiJ9"
DIGEST = "sha256:" + "ab" * 32
ENGINE_DOWN = "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?"
FAKE_DOCKER = """#!{python}
import json, os, sys
args = sys.argv[1:]
stdin = sys.stdin.read() if args[:1] == ["login"] else None
with open(os.environ["FAKE_DOCKER_LOG"], "a") as log:
    log.write(json.dumps({{"args": args, "stdin": stdin}}) + "\\n")
if args[:1] == ["info"]:
    if os.environ.get("FAKE_DOCKER_ENGINE") == "down":
        sys.exit(print({engine_down!r}, file=sys.stderr) or 1)
    print("28.2.2")
elif args[:2] == ["buildx", "build"]:
    print("#1 [internal] load build definition from Dockerfile in", args[-1])
    if os.environ.get("FAKE_DOCKER_BUILD") == "fail":
        sys.exit(print("ERROR: failed to solve: process did not complete successfully: exit code: 2") or 1)
    print("#9 pushing", args[args.index("-t") + 1])
elif args[:1] == ["login"]:
    print("Login Succeeded")
"""


@pytest.fixture
def journal(tmp_path, monkeypatch):
    """Records go to a temporary audit folder; no AWS profile or key of this machine is visible."""
    empty = tmp_path / "aws-config"
    empty.write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                 image_push.SOURCE_DIR_VARIABLE):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(audit.AUDIT_DIR_VARIABLE, str(tmp_path / "runs"))
    return tmp_path / "runs"


@pytest.fixture
def source(tmp_path):
    """A source folder with a Dockerfile for every service and Lambda image."""
    root = tmp_path / "tradai-src"
    for name in (*config.SERVICES, *config.LAMBDA_FUNCTIONS):
        (root / name).mkdir(parents=True)
        (root / name / "Dockerfile").write_text("FROM public.ecr.aws/lambda/python:3.11-arm64\n")
    return root


@pytest.fixture
def docker(tmp_path, monkeypatch):
    """A docker client double first on PATH: it logs each call (arguments and, for login, stdin) to a file."""
    folder = tmp_path / "fake-bin"
    folder.mkdir()
    script = folder / "docker"
    script.write_text(FAKE_DOCKER.format(python=sys.executable, engine_down=ENGINE_DOWN))
    script.chmod(0o755)
    log = tmp_path / "docker.jsonl"
    monkeypatch.setenv("FAKE_DOCKER_LOG", str(log))
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")

    def calls() -> list[dict]:
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    return calls


@pytest.fixture
def no_docker(tmp_path, monkeypatch):
    """PATH without docker (only the venv's binaries and a shell)."""
    folder = tmp_path / "bin-without-docker"
    folder.mkdir()
    for tool in ("sh", "git"):
        if found := shutil.which(tool):
            (folder / tool).symlink_to(found)
    path = f"{folder}{os.pathsep}{PROJECT_ROOT / '.venv' / 'bin'}"
    monkeypatch.setenv("PATH", path)
    assert shutil.which("docker") is None
    return path


@pytest.fixture
def session(monkeypatch):
    """tradai-nb's sessions replaced by a double: ECR is a Stubber-backed client (stub.ecr), S3 (audit uploads) a
    mock (stub.uploads); the double records every client asked of it."""
    ecr = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                region_name=config.AWS_REGION).client("ecr")
    stubber = Stubber(ecr)
    uploads = mock.Mock(name="s3")
    double = mock.create_autospec(EnvironmentSession, instance=True)
    double.client.side_effect = lambda name, *a, **k: ecr if name == "ecr" else uploads
    made = []
    monkeypatch.setattr(aws, "session_for", lambda settings: made.append(settings.environment) or double)
    double.stubber, double.uploads, double.made = stubber, uploads, made
    with stubber:
        yield double
    stubber.assert_no_pending_responses()


def _token():
    return {"authorizationData": [{
        "authorizationToken": base64.b64encode(f"AWS:{PASSWORD}".encode()).decode(),
        "proxyEndpoint": f"https://{REGISTRY}", "expiresAt": datetime(2026, 12, 2, 23, 0, tzinfo=UTC)}]}


def _pushed(name):
    repository = config.get_ecr_repo_name(name)
    return ("describe_images",
            {"imageDetails": [{"registryId": "123456789012", "repositoryName": repository, "imageDigest": DIGEST,
                               "imageTags": ["latest"], "imagePushedAt": datetime(2026, 12, 2, tzinfo=UTC)}]},
            {"repositoryName": repository, "imageIds": [{"imageTag": "latest"}]})


def _ecr_clients(double) -> list[str]:
    return [c.args[0] for c in double.client.call_args_list if c.args[0] == "ecr"]


@pytest.mark.parametrize("argv", [["images", "login", "--env", "dev"], ["images", "push", "backend", "--env", "dev"],
                                  ["images", "push-all", "--env", "dev"],
                                  ["images", "push-all", "--lambdas", "--env", "prod", "--confirm", "prod"]],
                         ids=["login", "push", "push-all", "push-all-lambdas"])
def test_without_docker_on_path__exits_11_saying_so_before_any_aws_call(journal, session, source, no_docker,
                                                                         capsys, argv):
    code = main([*argv, *(["--source", str(source)] if "push" in argv[1] else [])])

    assert code == EXIT_PREREQUISITE
    assert "tradai-nb: error: Docker is not installed (no `docker` on PATH)" in capsys.readouterr().err
    assert session.made == [] and session.client.call_count == 0
    assert audit.read_records(journal) == []


def test_docker_engine_not_answering__exits_11_with_what_docker_info_said_before_any_aws_call(
        journal, session, source, docker, monkeypatch, capsys):
    monkeypatch.setenv("FAKE_DOCKER_ENGINE", "down")

    assert main(["images", "push", "backend", "--env", "dev", "--source", str(source)]) == EXIT_PREREQUISITE
    assert main(["images", "login", "--env", "dev"]) == EXIT_PREREQUISITE

    error = capsys.readouterr().err
    assert error.count("Docker is installed but its engine does not answer") == 2
    assert f"(docker info: {ENGINE_DOWN})" in error
    assert session.made == [] and audit.read_records(journal) == []
    assert {call["args"][0] for call in docker()} == {"info"}


@pytest.mark.skipif(shutil.which("docker") is None, reason="no docker client on this machine")
def test_on_this_machine__just_service_ecr_login_exits_11_when_the_engine_does_not_answer(journal, tmp_path):
    engine = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True,
                            timeout=60)
    if engine.returncode == 0 and engine.stdout.strip():
        pytest.skip("this machine's Docker engine answers")

    done = subprocess.run([str(PROJECT_ROOT / ".venv" / "bin" / "just"), "service-ecr-login"], cwd=PROJECT_ROOT,
                          env={**os.environ, "TRADAI_ENV": "dev"}, capture_output=True, text=True, timeout=120)

    assert done.returncode == EXIT_PREREQUISITE, done.stderr
    assert "Docker is installed but its engine does not answer" in done.stderr and "(docker info: " in done.stderr


def test_just_service_push__without_docker_exits_11_with_the_message(journal, source, no_docker):
    done = subprocess.run([str(PROJECT_ROOT / ".venv" / "bin" / "just"), "service-push", "backend"], cwd=PROJECT_ROOT,
                          env={**os.environ, "TRADAI_ENV": "dev", image_push.SOURCE_DIR_VARIABLE: str(source)},
                          capture_output=True, text=True, timeout=120)

    assert done.returncode == EXIT_PREREQUISITE, done.stderr
    assert "Docker is not installed" in done.stderr and audit.read_records(journal) == []


def test_login__gives_docker_the_password_on_stdin_only_and_never_shows_it(journal, session, docker, capsys):
    session.stubber.add_response("get_authorization_token", _token(), {})

    assert main(["images", "login", "--env", "dev"]) == EXIT_OK

    captured = capsys.readouterr()
    assert f"docker is logged in to {REGISTRY} as AWS" in captured.out
    assert PASSWORD not in captured.out + captured.err
    [login] = [call for call in docker() if call["args"][0] == "login"]
    assert login == {"args": ["login", "--username", "AWS", "--password-stdin", REGISTRY], "stdin": PASSWORD}
    assert all(PASSWORD not in " ".join(call["args"]) for call in docker())
    assert PASSWORD not in repr(image_push.Registry(REGISTRY, "AWS", PASSWORD))
    assert audit.read_records(journal) == []  # a login changes nothing in AWS


@pytest.mark.parametrize("given", ["--source", image_push.SOURCE_DIR_VARIABLE])
def test_push__builds_for_arm64_pushes_the_ecr_tag_and_records_the_change(journal, session, docker, source,
                                                                          monkeypatch, capsys, given):
    session.stubber.add_response("get_authorization_token", _token(), {})
    session.stubber.add_response(*_pushed("backend"))
    if given == "--source":
        argv = ["--source", str(source)]
    else:
        argv = []
        monkeypatch.setenv(image_push.SOURCE_DIR_VARIABLE, str(source))

    assert main(["images", "push", "backend", "--env", "dev", *argv]) == EXIT_OK

    image = f"{REGISTRY}/tradai/backend:latest"
    [build] = [call["args"] for call in docker() if call["args"][:2] == ["buildx", "build"]]
    assert build == ["buildx", "build", "--platform", "linux/arm64", "-t", image, "--push", str(source / "backend")]
    printed = capsys.readouterr()
    assert f"pushed {image} ({DIGEST})" in printed.out and "pushed 1 image(s) (linux/arm64)" in printed.out
    started, succeeded = audit.read_records(journal)
    assert (started.action, started.target, started.status, succeeded.status) == (
        "ecr.push", "tradai/backend", "started", "succeeded")
    assert started.parameters == {"image": image, "source": str(source / "backend"), "platform": "linux/arm64",
                                  "confirm": ""}
    everything = printed.out + printed.err + journal.joinpath(audit.INDEX_FILE).read_text() + repr(
        session.uploads.mock_calls)
    assert PASSWORD not in everything


def test_push_all_lambdas__pushes_every_lambda_image_after_one_login(journal, session, docker, source, capsys):
    session.stubber.add_response("get_authorization_token", _token(), {})
    for function in config.LAMBDA_FUNCTIONS:
        session.stubber.add_response(*_pushed(function))

    assert main(["images", "push-all", "--lambdas", "--env", "dev", "--source", str(source)]) == EXIT_OK

    built = [call["args"][5] for call in docker() if call["args"][:2] == ["buildx", "build"]]
    assert built == [f"{REGISTRY}/tradai/{function}:latest" for function in config.LAMBDA_FUNCTIONS]
    assert [call["args"][0] for call in docker()].count("login") == 1
    records = audit.read_records(journal)
    assert [r.target for r in records if r.status == "succeeded"] == [
        config.get_ecr_repo_name(f) for f in config.LAMBDA_FUNCTIONS]
    assert f"pushed {len(config.LAMBDA_FUNCTIONS)} image(s)" in capsys.readouterr().out


def test_push_all__pushes_the_service_images(journal, session, docker, source):
    session.stubber.add_response("get_authorization_token", _token(), {})
    for service in config.SERVICES:
        session.stubber.add_response(*_pushed(service))

    assert main(["images", "push-all", "--env", "dev", "--source", str(source)]) == EXIT_OK

    built = [call["args"][-1] for call in docker() if call["args"][:2] == ["buildx", "build"]]
    assert built == [str(source / service) for service in config.SERVICES]


def test_push_in_staging_without_confirm__is_refused_exit_10_and_recorded_before_docker_or_ecr(
        journal, session, docker, source, capsys):
    code = main(["images", "push", "backend", "--env", "staging", "--source", str(source)])

    assert code == EXIT_REFUSED
    assert "pass confirm='staging' (--confirm staging" in capsys.readouterr().err
    [refused] = audit.read_records(journal)
    assert (refused.action, refused.status, refused.target, refused.environment) == (
        "ecr.push", "refused", "tradai/backend", "staging")
    assert docker() == [] and _ecr_clients(session) == []


def test_failed_build__exits_1_with_its_last_lines_and_records_the_failure(journal, session, docker, source,
                                                                           monkeypatch, capsys):
    monkeypatch.setenv("FAKE_DOCKER_BUILD", "fail")
    session.stubber.add_response("get_authorization_token", _token(), {})

    assert main(["images", "push", "mlflow", "--env", "dev", "--source", str(source)]) == EXIT_FAILED

    error = capsys.readouterr().err
    assert "docker buildx build of" in error and "failed to solve" in error
    assert [r.status for r in audit.read_records(journal)] == ["started", "failed"]


def test_source_folder__missing_is_an_error_naming_where_it_comes_from(journal, session, docker, tmp_path,
                                                                        monkeypatch, capsys):
    assert main(["images", "push", "backend", "--env", "dev"]) == EXIT_INVALID
    assert f"pass --source DIR or set {image_push.SOURCE_DIR_VARIABLE}" in capsys.readouterr().err

    monkeypatch.setenv(image_push.SOURCE_DIR_VARIABLE, str(tmp_path))
    assert main(["images", "push", "backend", "--env", "dev"]) == EXIT_INVALID
    error = capsys.readouterr().err
    assert f"(from {image_push.SOURCE_DIR_VARIABLE})" in error and str(tmp_path / "backend" / "Dockerfile") in error
    assert docker() == [] and session.made == []


def test_unknown_image_and_local__are_invalid_before_anything_is_asked(journal, session, docker, source, capsys):
    assert main(["images", "push", "frontend", "--env", "dev", "--source", str(source)]) == EXIT_INVALID
    assert "'frontend' is not a service or a Lambda function" in capsys.readouterr().err
    assert main(["images", "login", "--env", "local"]) == EXIT_INVALID
    assert "the sandbox's ECR holds repositories but no image registry" in capsys.readouterr().err
    assert docker() == [] and session.made == []
