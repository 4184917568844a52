"""The daemon's garbage-collector policy: keep the RIB's big tables out of the collector's walks.

The RIB holds no GC-tracked object per route, but its tables (dicts of keys to attribute sets,
the change log) are tracked containers, and a collection of the generation they are in visits
every entry: 20-35 ms a pass at a million routes, during which the event loop (keepalives, the
API) waits. ``gc.freeze()`` moves every tracked object into the permanent generation, which no
collection walks, at the cost of a pointer splice.

``GcPolicy`` freezes at start, when the first session comes up (the REST API and its server
are built after the speaker starts: freezing them then, before routes flow, takes the one
costly collection, ~30 ms, out of the first flood), and then whenever the routes received since
the last freeze pass a step that doubles from ``first`` up to ``max_step``: so about ten times
while a million routes arrive, then once per ``max_step`` routes of churn. Each freeze first
runs a full collection, which walks only what is not frozen yet (the objects made since the
last freeze: a few milliseconds), so no garbage present then is frozen. Between two freezes
the tables made or grown since hold at most about ``max_step`` routes, which bounds a pass.

Frozen objects are still freed by reference counting; only a cycle of them that becomes
garbage later is never collected. The RIB drops its cross-peer references when a peer is
removed, and connections break their own cycles on close.
"""

from __future__ import annotations

import gc

# an instance or attachment holds dozens of GC-tracked objects (dicts, dataclasses, adverts):
# in the freeze steps it counts as this many routes, so that the objects of a thousand
# attachments are frozen before a full collection has to walk them (~10-50 ms a pass)
INTENT_WEIGHT = 100


class GcPolicy:
    """Call ``start()`` when the daemon starts, ``session_up()`` when a session is established,
    ``routes_received(n)`` for each UPDATE, ``intent_made(n)`` after API changes."""

    def __init__(self, first: int = 20_000, max_step: int = 250_000, enabled: bool = True) -> None:
        self.first = first
        self.max_step = max_step
        self.enabled = enabled
        self.freezes = 0
        self._since = 0
        self._total = 0
        self._step = first
        self._sessions = False

    def start(self) -> None:
        self._freeze()

    def session_up(self) -> None:
        if not self._sessions:
            self._sessions = True
            self._freeze()

    def intent_made(self, n: int) -> None:
        """``n`` instances or port attachments were made or changed: unlike routes, each is a
        few dozen tracked objects (``INTENT_WEIGHT`` routes' worth in the freeze steps)."""
        self.routes_received(n * INTENT_WEIGHT)

    def routes_received(self, n: int) -> None:
        self._since += n
        if self._since >= self._step:
            self._total += self._since
            self._since = 0
            self._step = min(self.max_step, max(self.first, self._total))
            self._freeze()

    def _freeze(self) -> None:
        if not self.enabled:
            return
        gc.collect()
        gc.freeze()
        self.freezes += 1
