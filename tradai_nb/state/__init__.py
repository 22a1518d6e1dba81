"""Pulumi state on its backend, read and written as the CLI does; nothing here imports above config, settings, aws."""
