"""What the REST routers work on: one bgpvpn host's speaker, VPN instances and intent store."""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bgpvpn.runtime.speaker import Speaker
    from bgpvpn.store.sqlite import SqliteStore
    from bgpvpn.vpn.manager import VpnManager


class LogBuffer(logging.Handler):
    """The last ``size`` log records, for the looking glass (``/looking-glass/logs``)."""

    def __init__(self, size: int = 500, level: int = logging.INFO) -> None:
        super().__init__(level)
        self.records: deque[dict[str, Any]] = deque(maxlen=size)

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(
            {
                "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
                + f".{int(record.msecs):03d}Z",
                "level": record.levelname,
                "logger": record.name,
                "message": record.getMessage(),
            }
        )


@dataclass
class ApiContext:
    """``boot_id`` changes only when the daemon starts without its stored state (BaGPipe's
    ``/ping`` restart detection). Routers call ``changed()`` after every change so that the
    speaker sends the updates without waiting."""

    speaker: Speaker
    vpn: VpnManager
    boot_id: str
    store: SqliteStore | None = None
    logs: LogBuffer = field(default_factory=LogBuffer)

    _intent_seen: int = field(default=0, init=False, repr=False)

    def changed(self) -> None:
        self.vpn.flush()
        self.speaker.wake()
        made = self.vpn.intent_made - self._intent_seen
        if made:
            self._intent_seen = self.vpn.intent_made
            self.speaker.gc.intent_made(made)
