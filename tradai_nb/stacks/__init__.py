"""The four TradAI stacks as Pulumi program factories, and their registry."""

from tradai_nb.stacks.registry import DestroyPolicy, StackSpec, stacks

__all__ = ["DestroyPolicy", "StackSpec", "stacks"]
