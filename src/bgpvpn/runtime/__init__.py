"""The asyncio runtime: the only place with sockets, timers and tasks. It drives the sans-IO
session state machines and feeds the RIB."""
