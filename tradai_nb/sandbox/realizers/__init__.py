"""The realizers of the rehearsal estate, one module per group of resources. Each module's REALIZERS maps a planned
resource type to (seed kind, realizer); a kind is added by writing its realizer in the module of its group (or a new
module listed in MODULES)."""

from __future__ import annotations

from tradai_nb.sandbox.realizers import (
    compute,
    discovery,
    edge,
    iam,
    identity,
    load_balancing,
    messaging,
    monitoring,
    network,
    storage,
    wiring,
)
from tradai_nb.sandbox.realizers.base import Realizer

MODULES = (storage, messaging, monitoring, iam, network, compute, load_balancing, edge, identity, discovery, wiring)

# Planned resource type -> (seed kind, realizer), in no particular order: resources are realized in plan order, so a
# resource's inputs already carry the sandbox's values of what it depends on.
REALIZERS: dict[str, tuple[str, Realizer]] = {
    kind: entry for module in MODULES for kind, entry in module.REALIZERS.items()
}
