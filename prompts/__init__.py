"""Prompts are data: YAML files in this package, rendered with Jinja2 strictly.

Each ``<name>.yaml`` holds a ``description``, the ``variables`` it needs and a list of
``messages`` (``role``: system | user | assistant, ``content``: a Jinja2 template). Rendering
fails loudly on a missing or an unexpected variable. The ``data`` filter neutralizes ``<``, ``>``
and ``"`` in untrusted text (documents, questions) so it cannot close the delimiters around it.

>>> prompt = load_prompt("answer")
>>> messages = prompt.render(question="...", passages=[])  # [("system", "..."), ("user", "...")]
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

__all__ = ["Prompt", "PromptError", "load_prompt", "load_text", "data_text"]

_ROLES = ("system", "user", "assistant")


class PromptError(Exception):
    """A prompt file is missing, malformed, or rendered with the wrong variables (a bug, not user input)."""


def data_text(value: Any) -> str:
    """Untrusted text made safe inside ``<tag attr="...">...</tag>`` delimiters (full-width ＜＞＂)."""
    return str(value).replace("<", "＜").replace(">", "＞").replace('"', "＂")


@dataclass(frozen=True)
class Prompt:
    """A loaded prompt: its name, the variables it needs and its message templates."""

    name: str
    description: str
    variables: frozenset[str]
    templates: tuple[tuple[str, Any], ...]  # (role, jinja2.Template)

    def render(self, **variables: Any) -> list[tuple[str, str]]:
        """The messages as ``(role, text)`` pairs, which LangChain chat models accept directly."""
        given = set(variables)
        if given != self.variables:
            missing = sorted(self.variables - given)
            extra = sorted(given - self.variables)
            raise PromptError(f"prompt {self.name!r}: missing variables {missing}, unexpected {extra}")
        import jinja2

        try:
            return [(role, template.render(**variables).strip()) for role, template in self.templates]
        except jinja2.UndefinedError as exc:
            raise PromptError(f"prompt {self.name!r}: {exc}") from exc


@functools.lru_cache(maxsize=None)
def load_prompt(name: str) -> Prompt:
    """The prompt ``prompts/<name>.yaml`` (read as package data, so it works when installed)."""
    import jinja2
    import yaml

    resource = files(__name__).joinpath(f"{name}.yaml")
    if not resource.is_file():
        raise PromptError(f"prompt {name!r} not found: no {name}.yaml in the prompts package")
    try:
        spec = yaml.safe_load(resource.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise PromptError(f"prompt {name!r}: invalid YAML: {exc}") from exc
    if not isinstance(spec, dict) or not isinstance(spec.get("messages"), list) or not spec["messages"]:
        raise PromptError(f"prompt {name!r}: needs a non-empty 'messages' list")
    env = jinja2.Environment(
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # plain text for a model, not HTML; untrusted text goes through |data
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters["data"] = data_text
    templates = []
    for i, message in enumerate(spec["messages"]):
        role, content = message.get("role"), message.get("content")
        if role not in _ROLES or not isinstance(content, str):
            raise PromptError(f"prompt {name!r}: message {i} needs a role in {_ROLES} and a text content")
        templates.append((role, env.from_string(content)))
    return Prompt(
        name=name,
        description=str(spec.get("description", "")),
        variables=frozenset(spec.get("variables") or ()),
        templates=tuple(templates),
    )


@functools.lru_cache(maxsize=None)
def load_text(name: str) -> str:
    """A plain data file of this package (``prompts/<name>``), read as package data."""
    resource = files(__name__).joinpath(name)
    if not resource.is_file():
        raise PromptError(f"data file {name!r} not found in the prompts package")
    return resource.read_text(encoding="utf-8")
