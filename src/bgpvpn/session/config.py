"""The settings of one BGP session (one configured peer), validated on construction."""

from __future__ import annotations

from dataclasses import dataclass

from bgpvpn.wire.family import IPV4_UNICAST, Family

MAX_PREFIX_ACTIONS = ("warn", "teardown", "restart")


@dataclass(frozen=True, slots=True)
class SessionConfig:
    """What the session announces in its OPEN and how it behaves.

    ``connect_retry`` is the first retry delay (and the time a TCP connection attempt is given);
    repeated failures double it up to 120 s, with +-25% jitter. The back-off resets after a
    session stayed Established for longer than its hold time. ``idle_hold`` is the first delay
    before reconnecting after a NOTIFICATION when longer than ``connect_retry`` (it backs off the
    same way). ``graceful_restart`` is the restart time announced (0: no capability);
    ``restarting`` sets the R bit (the daemon sets it after its own restart).
    ``add_path_receive``: families where we ask to receive several paths (RFC7911);
    ``add_path_send``: families where we offer to send several.
    ``max_prefix``: the number of routes accepted per family (0: no limit), with
    ``max_prefix_action`` "warn", "teardown" or "restart" (after ``max_prefix_restart`` s).
    """

    local_asn: int
    router_id: bytes
    peer_asn: int
    peer_address: str
    hold_time: int = 90
    connect_retry: float = 5.0
    passive: bool = False
    families: tuple[Family, ...] = (IPV4_UNICAST,)
    route_refresh: bool = True
    enhanced_route_refresh: bool = True
    extended_message: bool = True
    graceful_restart: int = 120
    restarting: bool = False
    add_path_receive: tuple[Family, ...] = ()
    add_path_send: tuple[Family, ...] = ()
    max_prefix: int = 0
    max_prefix_action: str = "teardown"
    max_prefix_restart: float = 60.0
    idle_hold: float = 0.0
    hostname: str | None = None

    def __post_init__(self) -> None:
        if len(self.router_id) != 4:
            raise ValueError(f"router_id must be 4 octets, not {len(self.router_id)}")
        if self.router_id == bytes(4):
            raise ValueError("router_id 0.0.0.0 is not a valid BGP identifier")
        for name in ("local_asn", "peer_asn"):
            asn = getattr(self, name)
            if not 1 <= asn <= 0xFFFFFFFF:
                raise ValueError(f"{name} {asn} is outside 1..4294967295")
        if self.hold_time in (1, 2) or not 0 <= self.hold_time <= 0xFFFF:
            raise ValueError(f"hold_time {self.hold_time} must be 0 or 3..65535 (RFC4271 4.2)")
        if self.connect_retry <= 0:
            raise ValueError("connect_retry must be positive")
        if self.idle_hold < 0 or self.max_prefix_restart < 0:
            raise ValueError("idle_hold and max_prefix_restart must not be negative")
        if not self.families:
            raise ValueError("at least one address family is needed")
        if not 0 <= self.graceful_restart <= 0xFFF:
            raise ValueError("graceful_restart must be 0..4095 s (12 bits, RFC4724 3)")
        if self.max_prefix < 0:
            raise ValueError("max_prefix must not be negative")
        if self.max_prefix_action not in MAX_PREFIX_ACTIONS:
            raise ValueError(
                f"max_prefix_action {self.max_prefix_action!r} is not one of "
                + ", ".join(MAX_PREFIX_ACTIONS)
            )

    @property
    def ibgp(self) -> bool:
        return self.local_asn == self.peer_asn
