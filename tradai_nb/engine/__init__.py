"""Running stack programs: the offline plan (mock runtime) and the Automation API (real Pulumi CLI)."""
