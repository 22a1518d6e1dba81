"""The realizers of the rehearsal estate, one module per group of resources. Each module's REALIZERS maps a planned
resource type to (seed kind, realizer); a kind is added by writing its realizer in the module of its group (or a new
module listed in MODULES)."""

from __future__ import annotations

from tradai_nb.sandbox.realizers import (
    compute,
    discovery,
    iam,
    identity,
    load_balancing,
    messaging,
    monitoring,
    storage,
    wiring,
)
from tradai_nb.sandbox.realizers.base import Realizer

MODULES = (storage, messaging, monitoring, iam, compute, load_balancing, identity, discovery, wiring)

# Planned resource type -> (seed kind, realizer), in no particular order: resources are realized in plan order, so a
# resource's inputs already carry the sandbox's values of what it depends on.
REALIZERS: dict[str, tuple[str, Realizer]] = {
    kind: entry for module in MODULES for kind, entry in module.REALIZERS.items()
}
