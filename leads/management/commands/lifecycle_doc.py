"""Write docs/lifecycle.md from the code (transition table + Mermaid diagram), so it cannot drift."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import translation

from core.vocabulary import Stage
from leads import guards
from leads.lifecycle import TRANSITIONS
from leads.roles import _ROLE_TRANSITIONS


def render() -> str:
    with translation.override("en"):
        return _render()


def _render() -> str:
    lines = [
        "# The lead lifecycle",
        "",
        "Generated from the code by `python manage.py lifecycle_doc`; a test fails when this file is stale.",
        "",
        "| transition | from | to | guard (shown to the user when unmet) | inputs | who |",
        "|---|---|---|---|---|---|",
    ]
    for name, (sources, target) in TRANSITIONS.items():
        who = sorted(role for role, names in _ROLE_TRANSITIONS.items() if name in names)
        if name == "mark_mql":
            who.append("system")
        if name in _ROLE_TRANSITIONS["sdr"]:
            who[who.index("sdr")] = "sdr (own leads)"
        inputs = ", ".join(guards.INPUTS[name]) or "-"
        lines.append(
            f"| `{name}` | {', '.join(f'`{s}`' for s in sources)} | `{target}` | {guards.IN_WORDS[name]} | {inputs} | "
            f"{', '.join(who)}, admin |"
        )
    lines += [
        "",
        "Owner changes (`assign`, `claim`, `release`) are logged in the same table as transitions, with the "
        "stage unchanged and `from_owner` / `to_owner` in their data.",
        "",
        "```mermaid",
        "stateDiagram-v2",
    ]
    for name, (sources, target) in TRANSITIONS.items():
        for source in sources:
            lines.append(f"    {source} --> {target}: {name}")
    lines += ["```", "", "Stages: " + ", ".join(f"`{value}`" for value in Stage.values) + ".", ""]
    return "\n".join(lines)


class Command(BaseCommand):
    help = "Write docs/lifecycle.md from the transition declarations."

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true", help="Exit non-zero when the file is stale.")

    def handle(self, *args, check, **options):
        path = Path(settings.BASE_DIR) / "docs" / "lifecycle.md"
        text = render()
        if check:
            if not path.exists() or path.read_text() != text:
                raise SystemExit("docs/lifecycle.md is stale: run `python manage.py lifecycle_doc`.")
            return
        path.write_text(text)
        self.stdout.write(f"wrote {path}")
