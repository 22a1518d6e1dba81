"""Service and Lambda images built for linux/arm64 with Docker and pushed to ECR, Docker logged in with an ECR token."""

from __future__ import annotations

import base64
import os
import platform
import shlex
import shutil
import subprocess
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import urlparse

import pandas as pd

from tradai_nb import config
from tradai_nb.aws import aws_errors
from tradai_nb.errors import OperationError, ParameterError, PrerequisiteMissingError
from tradai_nb.records import gate
from tradai_nb.settings import Settings

# Where the images' sources are: the TradAI application repository, one folder per image name with its Dockerfile.
SOURCE_DIR_VARIABLE = "TRADAI_SOURCE_DIR"
PLATFORM = "linux/arm64"
TAG = "latest"
SERVICE_IMAGES = tuple(config.SERVICES)
LAMBDA_IMAGES = tuple(config.LAMBDA_FUNCTIONS)
PUSHED_COLUMNS = ["name", "image", "digest", "source"]
# `docker info` and `docker login` answer in seconds; a build takes as long as it takes.
DOCKER_TIMEOUT_S = 60
_TAIL_LINES = 15

Output = Callable[[str], object]


class DockerMissingError(PrerequisiteMissingError):
    """Raised when an image action needs Docker (or its buildx plugin) and this machine has none."""


class DockerEngineError(PrerequisiteMissingError):
    """Raised when the docker client is installed but its engine does not answer (`docker info` fails)."""


@dataclass(frozen=True)
class Registry:
    """The ECR registry Docker is logged in to: its host, the user and (never shown) password, and when the login
    expires."""

    host: str
    username: str
    password: str = field(repr=False)
    expires_at: datetime | None = None


@dataclass(frozen=True)
class ImageSource:
    """One image to build: its name, its ECR repository, and its build context (the folder with its Dockerfile)."""

    name: str
    repository: str
    context: Path


@dataclass(frozen=True)
class PushedImage:
    """An image pushed to ECR: name, the image reference, the digest ECR holds under the tag, the build context."""

    name: str
    image: str
    digest: str
    source: Path


def image_names(*, lambdas: bool = False) -> tuple[str, ...]:
    """The images `push-all` builds: the services', or (lambdas) the Lambda functions'."""
    return LAMBDA_IMAGES if lambdas else SERVICE_IMAGES


def check_names(names: Sequence[str]) -> list[str]:
    """The image names, each a service or a Lambda function of config.py (ParameterError otherwise)."""
    if isinstance(names, str) or not names:
        raise ParameterError(f"expected one or more image names, got {names!r}", name="name")
    for name in names:
        if name not in SERVICE_IMAGES and name not in LAMBDA_IMAGES:
            raise ParameterError(
                f"image {name!r} is not a service or a Lambda function of the estate; services: "
                f"{', '.join(SERVICE_IMAGES)}; Lambda functions: {', '.join(LAMBDA_IMAGES)}",
                name="name",
            )
    return list(dict.fromkeys(names))


def check_environment(settings: Settings) -> None:
    """Images go to a team environment's ECR: the sandbox has ECR repositories but no registry to push to."""
    if settings.is_local:
        raise ParameterError(
            "images cannot be pushed to local: the sandbox's ECR holds repositories but no image registry behind "
            "them, so docker can neither log in nor push there; push to dev (--env dev, TRADAI_ENV=dev), and "
            "rehearse the image check on local with `just lambda-check-images`",
            name="environment",
        )


def source_folder(source: str | os.PathLike[str] | None = None) -> Path:
    """The folder the images are built from: `source` (--source), else $TRADAI_SOURCE_DIR."""
    given, origin = (source, "--source") if source else (os.environ.get(SOURCE_DIR_VARIABLE), SOURCE_DIR_VARIABLE)
    if not given:
        raise ParameterError(
            f"no source folder for the images: pass --source DIR or set {SOURCE_DIR_VARIABLE} to a checkout of the "
            "TradAI application repository (one folder per image name, each with its Dockerfile)",
            name="source",
        )
    folder = Path(given).expanduser()
    if not folder.is_dir():
        raise ParameterError(
            f"source folder {folder} (from {origin}) is not a folder: point --source or {SOURCE_DIR_VARIABLE} at a "
            "checkout of the TradAI application repository (one folder per image name, each with its Dockerfile)",
            name="source",
        )
    return folder.resolve()


def image_sources(names: Sequence[str], source: str | os.PathLike[str] | None = None) -> list[ImageSource]:
    """The build context of each image: <source folder>/<name>, which must hold a Dockerfile."""
    names = check_names(names)
    folder = source_folder(source)
    sources = [ImageSource(name, config.get_ecr_repo_name(name), folder / name) for name in names]
    missing = [s.name for s in sources if not (s.context / "Dockerfile").is_file()]
    if missing:
        origin = "--source" if source else SOURCE_DIR_VARIABLE
        raise ParameterError(
            f"no Dockerfile for {', '.join(missing)} in the source folder {folder} (from {origin}): it must hold one "
            f"folder per image name with its Dockerfile ({folder / missing[0] / 'Dockerfile'} is missing); point "
            f"--source or {SOURCE_DIR_VARIABLE} at the TradAI application repository",
            name="source",
        )
    return sources


def check_docker(*, buildx: bool = False) -> str:
    """The docker client's path, once the engine answers (and, with buildx, the buildx plugin is there); raises
    DockerMissingError or DockerEngineError (exit 11) otherwise. Asks nothing of AWS."""
    docker = shutil.which("docker")
    if docker is None:
        raise DockerMissingError(
            "Docker is not installed (no `docker` on PATH): install Docker Engine "
            "(https://docs.docker.com/engine/install/) or Docker Desktop, with the buildx plugin, then run again"
        )
    answer = _docker(docker, ["info", "--format", "{{.ServerVersion}}"])
    if answer.returncode != 0 or not answer.stdout.strip():
        raise DockerEngineError(
            "Docker is installed but its engine does not answer: start it (`sudo systemctl start docker`, or open "
            "Docker Desktop) and check that you may use it (the docker group, or DOCKER_HOST), then run again "
            f"(docker info: {_detail(answer)})"
        )
    if buildx:
        plugin = _docker(docker, ["buildx", "version"])
        if plugin.returncode != 0:
            raise DockerMissingError(
                "Docker buildx is not installed: install the buildx plugin (Debian/Ubuntu: docker-buildx-plugin; "
                "https://docs.docker.com/build/install-buildx/), then run again "
                f"(docker buildx version: {_detail(plugin)})"
            )
    return docker


def check_login(settings: Settings) -> str:
    """What `ecr_login` needs before it asks AWS for a token: a team environment and an answering Docker engine."""
    check_environment(settings)
    return check_docker()


def prepare_push(
    settings: Settings, names: Sequence[str], *, source: str | os.PathLike[str] | None = None, confirm: object = ""
) -> list[ImageSource]:
    """Everything checked before a push asks AWS anything: the environment, the names, the confirm rule (a
    refusal is recorded), the sources with their Dockerfiles, and Docker with buildx."""
    return _prepared(settings, names, source, confirm)[0]


def ecr_login(session, settings: Settings, *, docker: str | None = None) -> Registry:
    """Log Docker in to the session's ECR registry (`aws ecr get-login-password | docker login --password-stdin`):
    the password goes to docker on its stdin only, never to an argument, an output or a record. Docker keeps the
    login in its own credential store until the token expires (12 hours)."""
    if docker is None:
        docker = check_login(settings)
    ecr = session.client("ecr")
    with aws_errors("getting an ECR login token (ecr get-authorization-token)"):
        data = ecr.get_authorization_token()["authorizationData"][0]
    username, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    endpoint = data["proxyEndpoint"]
    host = urlparse(endpoint).netloc or endpoint
    answer = _docker(docker, ["login", "--username", username, "--password-stdin", host], stdin=password)
    if answer.returncode != 0:
        detail = _detail(answer).replace(password, "[redacted]") if password else _detail(answer)
        raise OperationError(
            f"docker login to {host} failed (exit {answer.returncode}): {detail}; check the "
            "Docker engine and that the environment's AWS identity may push to ECR"
        )
    return Registry(host, username, password, data.get("expiresAt"))


def push_image(
    session,
    settings: Settings,
    name: str,
    *,
    source: str | os.PathLike[str] | None = None,
    confirm: object = "",
    registry: Registry | None = None,
    on_output: Output | None = print,
) -> PushedImage:
    """Build one service or Lambda image for linux/arm64 from <source>/<name> and push it to ECR as
    tradai/<name>:latest (`just service-push NAME`)."""
    return push_images(
        session, settings, [name], source=source, confirm=confirm, registry=registry, on_output=on_output
    )[0]


def push_all(
    session,
    settings: Settings,
    *,
    lambdas: bool = False,
    source: str | os.PathLike[str] | None = None,
    confirm: object = "",
    on_output: Output | None = print,
) -> list[PushedImage]:
    """Build and push every service image, or (lambdas) every Lambda image (`just service-push-all`,
    `just lambda-bootstrap`)."""
    return push_images(
        session, settings, image_names(lambdas=lambdas), source=source, confirm=confirm, on_output=on_output
    )


def push_images(
    session,
    settings: Settings,
    names: Sequence[str],
    *,
    source: str | os.PathLike[str] | None = None,
    confirm: object = "",
    registry: Registry | None = None,
    on_output: Output | None = print,
) -> list[PushedImage]:
    """Build each image (`docker buildx build --platform linux/arm64 -t <registry>/tradai/<name>:latest --push
    <source>/<name>`), one after the other, each push passing the change gate (`ecr.push`, confirmed in staging and
    prod); stops at the first failure. Everything is checked (prepare_push) before AWS is asked anything."""
    sources, docker = _prepared(settings, names, source, confirm)
    if registry is None:
        registry = ecr_login(session, settings, docker=docker)
    ecr = session.client("ecr")
    pushed = []
    for image in sources:
        reference = f"{registry.host}/{image.repository}:{TAG}"
        with gate.change(
            settings,
            "ecr.push",
            target=image.repository,
            confirm=confirm,
            parameters={"image": reference, "source": str(image.context), "platform": PLATFORM},
            on_output=on_output,
        ):
            _build_and_push(docker, reference, image.context, on_output)
            digest = _digest(ecr, image.repository)
        pushed.append(PushedImage(image.name, reference, digest, image.context))
        _say(on_output, f"pushed {reference} ({digest})")
    return pushed


def pushed_table(pushed: Sequence[PushedImage]) -> pd.DataFrame:
    """The pushed images, one row each."""
    rows = [{"name": p.name, "image": p.image, "digest": p.digest, "source": str(p.source)} for p in pushed]
    return pd.DataFrame(rows, columns=PUSHED_COLUMNS)


def _prepared(
    settings: Settings, names: Sequence[str], source: str | os.PathLike[str] | None, confirm: object
) -> tuple[list[ImageSource], str]:
    check_environment(settings)
    names = check_names(names)
    for name in names:
        gate.precheck(settings, "ecr.push", target=config.get_ecr_repo_name(name), confirm=confirm)
    sources = image_sources(names, source)
    return sources, check_docker(buildx=True)


def _build_and_push(docker: str, reference: str, context: Path, on_output: Output | None) -> None:
    command = [docker, "buildx", "build", "--platform", PLATFORM, "-t", reference, "--push", str(context)]
    _say(on_output, shlex.join(["docker", *command[1:]]))
    tail: deque[str] = deque(maxlen=_TAIL_LINES)
    with subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
    ) as build:
        assert build.stdout is not None
        for line in build.stdout:
            tail.append(line.rstrip())
            _say(on_output, line.rstrip())
        code = build.wait()
    if code != 0:
        emulation = (
            ""
            if platform.machine().lower() in ("arm64", "aarch64")
            else (
                "; building linux/arm64 on this machine needs QEMU emulation for buildx "
                "(docker run --privileged --rm tonistiigi/binfmt --install arm64)"
            )
        )
        raise OperationError(
            f"docker buildx build of {reference} from {context} failed (exit {code}): "
            f"{' | '.join(line for line in tail if line)[-1500:]}{emulation}"
        )


def _digest(ecr, repository: str) -> str:
    """The digest ECR holds under the tag just pushed: the push is verified, not assumed."""
    with aws_errors(f"checking that ECR repository {repository} holds the pushed image {TAG}"):
        details = ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": TAG}])["imageDetails"]
    return details[0]["imageDigest"]


def _docker(docker: str, arguments: list[str], *, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            [docker, *arguments],
            input=stdin,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=DOCKER_TIMEOUT_S,
            stdin=None if stdin is not None else subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess([docker, *arguments], 124, "", f"no answer within {DOCKER_TIMEOUT_S} s")
    except OSError as exc:
        return subprocess.CompletedProcess([docker, *arguments], 126, "", str(exc))


def _detail(answer: subprocess.CompletedProcess[str]) -> str:
    """What a failed docker command said: its last line on stderr (else on stdout)."""
    for text in (answer.stderr, answer.stdout):
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        if lines:
            return lines[-1]
    return f"exit code {answer.returncode}, no output"


def _say(on_output: Output | None, line: str) -> None:
    if on_output is not None:
        on_output(line)
