"""Commands imported when they are used, not every time ``tenantctl`` starts.

click's documented lazy-loading pattern ("Lazily Loading Subcommands" in the click
docs): the group knows each command by name and where it lives (``"module:attr"``)
and imports the module only when the command is looked up. ``tenantctl --version``
or ``tenantctl rollout status`` therefore import one command module, not all of them
(and not the spec, pydantic, rich, jinja2, boto3 or Pulumi they reach); only
``tenantctl --help``, which shows every command's short help, imports them all.

The table is kept in the group's ``commands`` mapping, so click's public attribute
stays complete: iterating over it lists names without importing anything, looking
one up imports its module.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any

import click


class LazyCommands(MutableMapping[str, click.Command]):
    """``{name: command}`` whose commands are imported from ``"module:attr"`` on first use."""

    def __init__(self, table: Mapping[str, str]) -> None:
        self._table = dict(table)
        self._loaded: dict[str, click.Command] = {}

    def add(self, table: Mapping[str, str]) -> None:
        self._table.update(table)

    def _load(self, name: str) -> click.Command:
        module_name, _, attr = self._table[name].partition(":")
        command = getattr(importlib.import_module(module_name), attr)
        if not isinstance(command, click.Command) or command.name != name:
            raise TypeError(f"{self._table[name]} is not the click command {name!r}")
        return command

    def __getitem__(self, name: str) -> click.Command:
        if name not in self._loaded:
            if name not in self._table:
                raise KeyError(name)
            self._loaded[name] = self._load(name)
        return self._loaded[name]

    def __setitem__(self, name: str, command: click.Command) -> None:
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        if name not in self:
            raise KeyError(name)
        self._table.pop(name, None)
        self._loaded.pop(name, None)

    def __contains__(self, name: object) -> bool:
        return name in self._table or name in self._loaded

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys([*self._table, *self._loaded]))

    def __len__(self) -> int:
        return len(self._table.keys() | self._loaded.keys())


class LazyGroup(click.Group):
    """A ``click.Group`` whose subcommands are given as ``{name: "module:attr"}``."""

    def __init__(
        self, *args: Any, lazy_subcommands: Mapping[str, str] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.commands: LazyCommands = LazyCommands(lazy_subcommands or {})

    def add_lazy_commands(self, table: Mapping[str, str]) -> None:
        """Register ``{name: "module:attr"}``; nothing is imported until a command is used."""
        self.commands.add(table)

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command's name, from the table: nothing is imported."""
        return sorted(self.commands)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The named command, its module imported now (once); None when there is none."""
        return self.commands.get(cmd_name)
