"""Helpers shared by the stack programs: upstream references and standard resource options."""

from __future__ import annotations

import pulumi

from tradai_nb import config
from tradai_nb.settings import Settings


def stack_reference_name(stack: str, environment: str) -> str:
    """Fully qualified name of a stack on a self-managed backend: organization/tradai-<stack>/<env>."""
    return f"organization/{config.get_stack_project(stack)}/{environment}"


class MissingUpstreamOutputError(Exception):
    """Raised when a stack reads an output its upstream stack does not export."""

    def __init__(self, consumer: str, upstream: str, key: str, exported: list[str]) -> None:
        super().__init__(
            f"stack {consumer!r} requires output {key!r} from stack {upstream!r}, which does not export it "
            f"(it exports: {', '.join(exported) or 'nothing'})"
        )
        self.consumer, self.upstream, self.key = consumer, upstream, key


class Upstream:
    """Read another stack's exports; `require` fails the program, naming both stacks, when the key is missing."""

    def __init__(self, stack: str, settings: Settings) -> None:
        self.stack = stack
        self.reference = pulumi.StackReference(
            f"{stack}-ref", stack_name=stack_reference_name(stack, settings.environment)
        )

    def require(self, key: str) -> pulumi.Output:
        consumer = pulumi.get_project().removeprefix(f"{config.PROJECT_NAME}-")

        def pick(outputs: dict) -> object:
            if key not in outputs:
                raise MissingUpstreamOutputError(consumer, self.stack, key, sorted(outputs))
            return outputs[key]

        return self.reference.outputs.apply(pick)

    def require_secret(self, key: str) -> pulumi.Output:
        return pulumi.Output.secret(self.require(key))


def data_options(settings: Settings, **kwargs) -> pulumi.ResourceOptions:
    """Options for data-bearing resources: protected outside dev/local."""
    return pulumi.ResourceOptions(protect=settings.protect_data, **kwargs)


def persistent_options(settings: Settings, **kwargs) -> pulumi.ResourceOptions:
    """Options for the persistent stack's resources (never destroyed): protected outside dev/local; where not
    protected, retained on delete, so that taking one out of the program (or a replacement) leaves its data in AWS.
    Foundation's database and queues take data_options: a foundation destroy in dev removes them."""
    return pulumi.ResourceOptions(protect=settings.protect_data, retain_on_delete=not settings.protect_data, **kwargs)
