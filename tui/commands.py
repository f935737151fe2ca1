"""Command-palette providers: every screen of the registry and every action of the current screen."""

from __future__ import annotations

from functools import partial
from typing import Iterator

from textual.command import DiscoveryHit, Hit, Hits, Provider

from mathbench.tui.registry import SCREENS


class _ListedProvider(Provider):
    """A provider over a fixed list of (title, help, command) that subclasses yield from _commands()."""

    def _commands(self) -> Iterator[tuple[str, str, object]]:
        raise NotImplementedError

    async def discover(self) -> Hits:
        for title, help_text, command in self._commands():
            yield DiscoveryHit(title, command, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, command in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), command, text=title, help=help_text)


class ScreensProvider(_ListedProvider):
    """Offers "screen: <Title>" for each screen in the registry."""

    def _commands(self) -> Iterator[tuple[str, str, object]]:
        for spec in SCREENS:
            yield f"screen: {spec.title}", f"{spec.key} · {spec.description}", partial(
                self.app.run_action, f"app.show('{spec.name}')"
            )



class ActionsProvider(_ListedProvider):
    """Offers every described action bound on the screen the palette was opened from."""

    def _commands(self) -> Iterator[tuple[str, str, object]]:
        screen = self.screen
        noun = (getattr(screen, "TITLE", None) or type(screen).__name__).lower()
        seen: set[str] = set()
        for active in screen.active_bindings.values():
            binding = active.binding
            # Only the workbench's own bindings (they carry ids); built-in widget keys like scrolling stay out.
            if not binding.id or not binding.description or binding.id.startswith("screen."):
                continue
            if not active.enabled or binding.action in seen:
                continue
            seen.add(binding.action)
            title = f"{noun}: {binding.description.lower()}"
            keys = self.app.get_key_display(binding)
            yield title, f"{keys} · {binding.tooltip}".rstrip(" ·"), partial(
                self.app.run_action, binding.action, active.node
            )

