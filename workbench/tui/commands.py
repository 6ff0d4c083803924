"""Command palette provider: load any shipped or user preset by name."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from .. import presets


class PresetCommands(Provider):
    """'load preset NAME' for every preset on the search path."""

    def _commands(self) -> list[tuple[str, str, object]]:
        out = []
        for name, path in presets.list_presets().items():
            out.append((f"load preset {name}", str(path), partial(self.app.load_preset, path)))
        return out

    async def discover(self) -> Hits:
        for text, help_text, callback in self._commands():
            yield DiscoveryHit(text, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, help_text, callback in self._commands():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), callback, help=help_text)
