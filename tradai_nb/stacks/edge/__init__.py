"""Edge stack."""
import pulumi
from tradai_nb.settings import Settings

def make_program(settings: Settings):
    def program() -> None:
        pulumi.export("x", 1)
    return program
