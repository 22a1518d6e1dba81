"""Review before deploy, from the offline plan: policy checks, environment diffs, cost estimates."""
