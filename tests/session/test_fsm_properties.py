"""Random drives of two wired sessions: nothing from the network raises, every transition is
one of RFC4271's, timers only move forward, and a quiet pair always comes back up."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st
from sessionutil import pair_configs

from bgpvpn.session import (
    CloseRequested,
    ConnectRequested,
    Session,
    State,
    StateChanged,
)
from bgpvpn.session.fsm import CONNECTED, TRANSITIONS

ACTIONS = st.lists(
    st.one_of(
        st.tuples(st.just("start"), st.integers(0, 1)),
        st.tuples(st.just("stop"), st.integers(0, 1)),
        st.tuples(st.just("fail"), st.integers(0, 1)),
        st.tuples(st.just("deliver"), st.integers(0, 1)),
        st.tuples(st.just("advance"), st.integers(0, 300)),
        st.tuples(st.just("garbage"), st.binary(max_size=40)),
        st.tuples(st.just("connect"), st.integers(0, 1)),
    ),
    max_size=60,
)


class Link:
    """Two sessions and one simulated TCP connection between them."""

    def __init__(self, seed: int) -> None:
        ca, cb = pair_configs(65001, 65002, hold_time=9)
        self.s = [Session(ca, 0.0, random.Random(seed)), Session(cb, 0.0, random.Random(~seed))]
        self.now = 0.0
        self.up = False
        self.wants = [False, False]
        self.last_timer = [0.0, 0.0]

    def handle_events(self) -> None:
        for i, s in enumerate(self.s):
            for e in s.events():
                if isinstance(e, StateChanged):
                    assert e.new in TRANSITIONS[e.old]
                elif isinstance(e, ConnectRequested):
                    self.wants[i] = True
                elif isinstance(e, CloseRequested):
                    self.wants[i] = False
                    if self.up and s.state not in CONNECTED:
                        self.up = False
                        s.bytes_to_send()
                        other = self.s[1 - i]
                        other.receive_bytes(b"", self.now)
                        other.connection_failed(self.now)

    def step(self, action: str, arg: object) -> None:
        s = self.s
        if action == "start":
            s[int(arg)].start(self.now)  # type: ignore[call-overload]
        elif action == "stop":
            s[int(arg)].stop(self.now, "fuzz")  # type: ignore[call-overload]
        elif action == "fail" and self.up:
            self.up = False
            for x in s:
                x.connection_failed(self.now)
        elif action == "connect" and not self.up:
            i = int(arg)  # type: ignore[call-overload]
            if self.wants[i] and s[1 - i].state in (State.CONNECT, State.ACTIVE):
                self.up = True
                self.wants[i] = False
                s[i].connection_made(self.now)
                s[1 - i].connection_made(self.now)
        elif action == "deliver" and self.up:
            i = int(arg)  # type: ignore[call-overload]
            data = s[i].bytes_to_send()
            if data:
                s[1 - i].receive_bytes(data, self.now)
        elif action == "garbage" and self.up:
            s[0].receive_bytes(arg, self.now)  # type: ignore[arg-type]
        elif action == "advance":
            self.now += int(arg)  # type: ignore[call-overload]
            for x in s:
                t = x.next_timer()
                if t is not None and t <= self.now:
                    x.handle_timer(self.now)
        if not self.up:
            for x in s:
                x.bytes_to_send()
        self.handle_events()
        for i, x in enumerate(s):
            t = x.next_timer()
            if t is not None:
                assert t > self.now
                self.last_timer[i] = t


@settings(max_examples=200, deadline=None)
@given(ACTIONS, st.integers(0, 2**32))
def test_random_drives_keep_the_fsm_consistent(
    actions: list[tuple[str, object]], seed: int
) -> None:
    link = Link(seed)
    for action, arg in actions:
        link.step(action, arg)  # never a SessionUsageError: the link drives it correctly
    for s in link.s:
        if s.state is State.ESTABLISHED:
            assert s.negotiated is not None
    # whatever happened, starting both and letting time run brings the session up
    for s in link.s:
        s.start(link.now)
    link.handle_events()
    for _ in range(400):
        if all(s.state is State.ESTABLISHED for s in link.s):
            break
        link.step("connect", 0)
        link.step("connect", 1)
        link.step("deliver", 0)
        link.step("deliver", 1)
        link.step("advance", 1)
    assert all(s.state is State.ESTABLISHED for s in link.s), [s.state for s in link.s]
