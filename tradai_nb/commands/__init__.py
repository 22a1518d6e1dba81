"""The tradai-nb subcommands, one module per area; each exposes register(subparsers)."""
