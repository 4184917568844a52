"""GcPolicy: the daemon freezes the collector's view of the RIB at start and as routes arrive
(steps doubling to a ceiling), so collections never walk the big tables."""

from __future__ import annotations

import gc
import weakref

from bagpipe.harness import make_ctx
from bgpvpn.api.context import ApiContext
from bgpvpn.runtime.gcpolicy import GcPolicy
from bgpvpn.vpn.model import InstanceSpec, InstanceType


def test_freezes_at_start_then_at_doubling_steps_up_to_the_ceiling() -> None:
    policy = GcPolicy(first=100, max_step=400)
    frozen = gc.get_freeze_count()
    try:
        policy.start()
        assert policy.freezes == 1
        policy.session_up()
        policy.session_up()  # only the first session
        assert policy.freezes == 2
        marks = []
        for n in range(1, 60):
            policy.routes_received(50)
            if policy.freezes > len(marks) + 2:
                marks.append(n * 50)
        # steps 100, 100 (total 100), 200, 400, then 400 each (the ceiling)
        assert marks[:6] == [100, 200, 400, 800, 1200, 1600]
        assert gc.get_freeze_count() > frozen

        class Node:
            other: object = None

        node = Node()
        node.other = node  # a cycle that is garbage when the next freeze comes
        ref = weakref.ref(node)
        del node
        policy.routes_received(400)
        assert ref() is None  # collected before the freeze, not kept in the frozen generation
    finally:
        gc.unfreeze()


def test_disabled_policy_never_touches_the_collector() -> None:
    policy = GcPolicy(first=10, enabled=False)
    before = gc.get_freeze_count()
    policy.start()
    policy.session_up()
    policy.routes_received(1000)
    assert policy.freezes == 0
    assert gc.get_freeze_count() == before


def test_api_changes_freeze_every_intent_step() -> None:
    """The daemon's ``ApiContext.changed()`` reports the instances and attachments the vpn
    layer made since its last call; a freeze every ``intent_step`` of them."""
    policy = GcPolicy(intent_step=3)
    try:
        harness = make_ctx()
        ctx = ApiContext(harness.speaker, harness.vpn, "boot")
        ctx.speaker.gc = policy
        for n in range(2):
            harness.vpn.create_instance(_evpn_spec(f"e{n}"))
            ctx.changed()
        assert policy.freezes == 0  # 2 of 3
        harness.vpn.create_instance(_evpn_spec("e2"))
        ctx.changed()
        assert policy.freezes == 1
        ctx.changed()  # nothing made since: no count
        assert policy.freezes == 1
        for n in range(3, 6):
            harness.vpn.create_instance(_evpn_spec(f"e{n}"))
            ctx.changed()
        assert policy.freezes == 2  # a fixed step, not a doubling one
    finally:
        gc.unfreeze()


def _evpn_spec(name: str) -> InstanceSpec:
    return InstanceSpec(name, InstanceType.EVPN, import_rts=("64512:1",))
