"""``pcm-ops plugins new``: a new plugin distribution, ready to test, build and install.

The template (``pcm_ops/scaffold/plugin/``) is a working plugin written against core's
public API only: a table and its first migration, a seed, an API router, a page with a
form, a CLI command, settings, tests on core's fixtures, and a README; with
``script_runner=True`` also a pre-execution check and a target source for the AWS Script
Runner (hooks marked ``optionalhook``, so the plugin still loads without it).

File names and contents are Jinja templates with delimiters of their own (``[[= name =]]``,
``[%= if ... =%]``), so that the generated Jinja pages and Python code keep theirs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PluginSpec", "ScaffoldError", "render_plugin"]

TEMPLATE = Path(__file__).parent / "plugin"
_ID = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
_WORD = re.compile(r"^[a-z][a-z0-9-]{0,39}$")


class ScaffoldError(ValueError):
    """An option that cannot make a plugin; the message names it."""


@dataclass(frozen=True)
class PluginSpec:
    """What the new plugin is called and what it builds on.

    :param plugin_id: the entry point's name (``change-gate``): lowercase letters and digits
        in dash-separated words.
    :param provider: the first part of its URLs (``/api/tools/<provider>/<tool>``).
    :param tool: the second part; defaults to the plugin id.
    :param display_name: what the UI shows; defaults to the id in title case.
    :param script_runner: depend on pcm-aws-script-runner and add a pre-execution check
        and a target source.
    """

    plugin_id: str
    provider: str = "custom"
    tool: str = ""
    display_name: str = ""
    script_runner: bool = False

    def __post_init__(self) -> None:
        if not _ID.match(self.plugin_id) or len(self.plugin_id) > 40:
            raise ScaffoldError(
                f"plugin id {self.plugin_id!r}: use lowercase letters and digits in words "
                "separated by dashes, starting with a letter, at most 40 characters "
                "(e.g. change-gate)"
            )
        for name, value in (("provider", self.provider), ("tool", self.tool or "x")):
            if not _WORD.match(value):
                raise ScaffoldError(
                    f"{name} {value!r}: use lowercase letters, digits and dashes, starting "
                    "with a letter"
                )

    @property
    def package(self) -> str:
        return "pcm_" + self.plugin_id.replace("-", "_")

    @property
    def distribution(self) -> str:
        return "pcm-" + self.plugin_id

    @property
    def tool_name(self) -> str:
        return self.tool or self.plugin_id

    @property
    def title(self) -> str:
        return self.display_name or self.plugin_id.replace("-", " ").title()

    @property
    def table_prefix(self) -> str:
        return self.plugin_id.replace("-", "_") + "_"

    @property
    def class_prefix(self) -> str:
        return "".join(part.title() for part in self.plugin_id.split("-"))

    @property
    def env_prefix(self) -> str:
        return "PCM_" + self.plugin_id.replace("-", "_").upper() + "__"


def render_plugin(spec: PluginSpec, directory: Path) -> list[Path]:
    """Write the new plugin into ``directory`` (which must not exist, or be empty).

    :return: the files written, relative to ``directory``.
    :raises ScaffoldError: the directory is not empty.
    """
    import jinja2

    if directory.exists() and any(directory.iterdir()):
        raise ScaffoldError(f"directory {directory} is not empty; choose another with --directory")
    environment = jinja2.Environment(  # noqa: S701 - generates code and text, not HTML
        variable_start_string="[[=",
        variable_end_string="=]]",
        block_start_string="[%=",
        block_end_string="=%]",
        comment_start_string="[#=",
        comment_end_string="=#]",
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    context = {
        "spec": spec,
        "plugin_id": spec.plugin_id,
        "package": spec.package,
        "distribution": spec.distribution,
        "provider": spec.provider,
        "tool": spec.tool_name,
        "title": spec.title,
        "prefix": spec.table_prefix,
        "cls": spec.class_prefix,
        "env_prefix": spec.env_prefix,
        "script_runner": spec.script_runner,
    }
    written: list[Path] = []
    for source in sorted(TEMPLATE.rglob("*")):
        if source.is_dir() or source.name == "__pycache__" or source.suffix == ".pyc":
            continue
        relative = source.relative_to(TEMPLATE)
        target_name = environment.from_string(str(relative)).render(context)
        if target_name.endswith(".jinja"):
            target_name = target_name[: -len(".jinja")]
        text = environment.from_string(source.read_text()).render(context)
        if not text.strip():
            continue  # a file only some variants have (e.g. the script runner's checks)
        target = directory / target_name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        written.append(Path(target_name))
    return written
