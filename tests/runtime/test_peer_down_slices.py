"""A session ending with a big table: the speaker withdraws its routes a slice at a time in its
drain task (``Rib.withdraw_dying``), and the event loop runs other work between the slices."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from bgpvpn.config import Config
from bgpvpn.rib import PeerInfo
from bgpvpn.rib.table import DYING_SLICE
from bgpvpn.runtime.speaker import Speaker
from bgpvpn.session import SessionDown
from bgpvpn.wire.family import IPV4_UNICAST
from rib.helpers import LOCAL_ADDR, attrs, prefix, update

PEER = "192.0.2.7"
N = 3 * DYING_SLICE


def test_the_drain_task_withdraws_a_big_table_in_slices() -> None:
    config = Config.model_validate(
        {
            "bgp": {
                "asn": 65000,
                "router_id": "192.0.2.1",
                "coalesce_time": 0,
                "peers": [{"address": PEER, "asn": 65000}],
            }
        }
    )
    sp = Speaker(config)

    async def main() -> tuple[int, int]:
        sp.loop = asyncio.get_running_loop()
        info = PeerInfo(PEER, bytes((192, 0, 2, 7)), 65000, bytes((192, 0, 2, 7)), True, LOCAL_ADDR)
        sp.rib.peer_up(info, frozenset({IPV4_UNICAST}))
        keys = [prefix(i & 255, i >> 8) for i in range(N)]
        for i in range(0, N, 1000):
            sp.rib.receive(PEER, update(info, keys[i : i + 1000], attrs()), 0.0)
        runner = SimpleNamespace(
            config=SimpleNamespace(peer_address=PEER),
            session=SimpleNamespace(
                negotiated=SimpleNamespace(
                    families=frozenset({IPV4_UNICAST}),
                    graceful_families=frozenset(),
                    graceful_restart=None,
                )
            ),
        )
        # a NOTIFICATION ended it: no graceful restart, everything goes
        sp._on_event(runner, SessionDown("hold timer expired", None, None, False, True))  # type: ignore[arg-type]
        assert sp.rib.dying  # nothing withdrawn yet in that step
        assert sp.rib.lookup(IPV4_UNICAST, keys[-1]) is not None
        ticks = 0
        seen_while_dying = 0

        async def ticker() -> None:
            nonlocal ticks, seen_while_dying
            while True:
                ticks += 1
                seen_while_dying += sp.rib.dying
                await asyncio.sleep(0)

        drain = asyncio.create_task(sp._drain_loop())
        tick = asyncio.create_task(ticker())
        for _ in range(200):
            await asyncio.sleep(0.01)
            if not sp.rib.dying:
                break
        drain.cancel()
        tick.cancel()
        await asyncio.gather(drain, tick, return_exceptions=True)
        return ticks, seen_while_dying

    ticks, seen_while_dying = asyncio.run(main())
    assert not sp.rib.dying
    assert list(sp.rib.loc_rib(IPV4_UNICAST)) == []
    # the other task ran between the slices (three slices: at least two turns while dying)
    assert seen_while_dying >= 2, (ticks, seen_while_dying)
