"""`tradai-nb images login|push NAME|push-all`: Docker logged in to ECR; service and Lambda images built and pushed."""

from __future__ import annotations

import argparse

from tradai_nb import config

SOURCE_HELP = (
    "the TradAI application repository: one folder per image name, each with its Dockerfile "
    "(default: $TRADAI_SOURCE_DIR)"
)
CONFIRM_HELP = "the environment name again; needed to push in staging and prod"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "images",
        help="log Docker in to ECR; build (linux/arm64) and push service and "
        "Lambda images (needs a running Docker engine with buildx)",
    )
    commands = parser.add_subparsers(dest="images_command", required=True, metavar="SUBCOMMAND")

    login = commands.add_parser(
        "login",
        help="log Docker in to the environment's ECR registry (the password goes to docker on stdin, never shown)",
    )
    _environment(login)
    login.set_defaults(handler=run_login)

    push = commands.add_parser(
        "push", help="build one service or Lambda image for linux/arm64 and push it to ECR as tradai/NAME:latest"
    )
    push.add_argument("name", metavar="NAME", help=f"a service ({', '.join(config.SERVICES)}) or a Lambda function")
    _environment(push)
    push.add_argument("--source", metavar="DIR", help=SOURCE_HELP)
    push.add_argument("--confirm", default="", metavar="ENV", help=CONFIRM_HELP)
    push.set_defaults(handler=run_push)

    push_all = commands.add_parser(
        "push-all", help="build and push every service image (--lambdas: every Lambda image)"
    )
    push_all.add_argument(
        "--lambdas",
        action="store_true",
        help="the Lambda functions' images instead of the services' (what compute needs)",
    )
    _environment(push_all)
    push_all.add_argument("--source", metavar="DIR", help=SOURCE_HELP)
    push_all.add_argument("--confirm", default="", metavar="ENV", help=CONFIRM_HELP)
    push_all.set_defaults(handler=run_push)


def _environment(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--env",
        required=True,
        choices=config.ENVIRONMENTS,
        help="the environment whose AWS account and region hold the registry",
    )


def run_login(args: argparse.Namespace) -> int:
    from tradai_nb import aws
    from tradai_nb.ops import image_push
    from tradai_nb.settings import load_settings

    settings = load_settings(args.env)
    # Docker first: a machine that cannot build is told so before AWS is asked anything.
    docker = image_push.check_login(settings)
    registry = image_push.ecr_login(aws.session_for(settings), settings, docker=docker)
    expires = f", until {registry.expires_at:%Y-%m-%d %H:%M %Z}".rstrip() if registry.expires_at else ""
    print(f"docker is logged in to {registry.host} as {registry.username}{expires}")
    return 0


def run_push(args: argparse.Namespace) -> int:
    from tradai_nb import aws
    from tradai_nb.ops import image_push
    from tradai_nb.settings import load_settings

    settings = load_settings(args.env)
    names = [args.name] if args.images_command == "push" else list(image_push.image_names(lambdas=args.lambdas))
    # Everything that needs no AWS (names, confirm, sources, Docker) is checked before the session is made.
    image_push.prepare_push(settings, names, source=args.source, confirm=args.confirm)
    pushed = image_push.push_images(
        aws.session_for(settings), settings, names, source=args.source, confirm=args.confirm, on_output=print
    )
    print(f"\npushed {len(pushed)} image(s) ({image_push.PLATFORM}):")
    print(image_push.pushed_table(pushed).to_string(index=False))
    return 0
