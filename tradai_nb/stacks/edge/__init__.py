"""Edge stack (placeholder exporting the agreed contract until the real program lands)."""

from __future__ import annotations

import pulumi

from tradai_nb.settings import Settings
from tradai_nb.stacks.common import Upstream


def make_program(settings: Settings):
    def program() -> None:
        Upstream("compute", settings).require("alb_listener_arn")
        pulumi.export("api_id", "placeholder")
        pulumi.export("api_endpoint", "https://placeholder.execute-api.eu-central-1.amazonaws.com")
        pulumi.export("waf_web_acl_arn", "arn:aws:wafv2:eu-central-1:000000000000:regional/webacl/placeholder")
        pulumi.export("dashboard_name", "placeholder")
        pulumi.export("alarm_names", [])
        pulumi.export("composite_alarm_name", "placeholder")

    return program
