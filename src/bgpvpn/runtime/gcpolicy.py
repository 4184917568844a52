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
while a million routes arrive, then once per ``max_step`` routes of churn. Instances and port
attachments made through the API are counted apart, a freeze every ``intent_step`` of them.
Each freeze first runs a full collection, which walks only what is not frozen yet (the
objects made since the last freeze: a few milliseconds), so no garbage present then is
frozen. Between two freezes the tables made or grown since hold at most about ``max_step``
routes, which bounds a pass.

Frozen objects are still freed by reference counting; only a cycle of them that becomes
garbage later is never collected. The RIB drops its cross-peer references when a peer is
removed, connections break their own cycles on close, and a removed VPN instance its own.
"""

from __future__ import annotations

import gc

# an instance or attachment holds dozens of GC-tracked objects (dicts, dataclasses, adverts):
# after this many the policy freezes, a fixed step so that each freeze's full collection walks
# at most a few thousand such objects (about a millisecond), not tens of thousands as doubling
# steps would (a pause of ~10 ms in the middle of a run of API calls)
INTENT_STEP = 256


class GcPolicy:
    """Call ``start()`` when the daemon starts, ``session_up()`` when a session is established,
    ``routes_received(n)`` for each UPDATE, ``intent_made(n)`` after API changes."""

    def __init__(
        self,
        first: int = 20_000,
        max_step: int = 250_000,
        enabled: bool = True,
        intent_step: int = INTENT_STEP,
    ) -> None:
        self.first = first
        self.max_step = max_step
        self.enabled = enabled
        self.intent_step = intent_step
        self.freezes = 0
        self._intents = 0
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
        few dozen tracked objects; a freeze every ``intent_step`` of them."""
        self._intents += n
        if self._intents >= self.intent_step:
            self._intents = 0
            self._freeze()

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
