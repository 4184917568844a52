"""The lab's record of what it created, in ``<state root>/<lab>/state.json`` (state root:
``$BGPVPN_LAB_DIR``, default ``/run/bgpvpn-lab``). ``lab up`` writes it before each step that
creates something (a namespace is recorded before ``ip netns add``, a process right after it
starts), atomically (write + rename), so ``lab down`` finds everything even when ``lab up`` or
a daemon was killed midway, and touches nothing else."""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_ROOT = Path("/run/bgpvpn-lab")
STATE_FILE = "state.json"


def state_root(option: str | Path | None = None) -> Path:
    return Path(option or os.environ.get("BGPVPN_LAB_DIR") or DEFAULT_ROOT)


@dataclass
class ProcRecord:
    node: str
    role: str  # bgpvpn, gobgpd, zebra, bgpd
    pid: int
    start_time: int | None
    argv: list[str]
    log: str


@dataclass
class LabState:
    name: str
    dir: str
    file: str = ""
    created: float = field(default_factory=time.time)
    up_pid: int = 0
    up_start_time: int | None = None
    complete: bool = False
    namespaces: list[str] = field(default_factory=list)  # recorded before creation
    processes: list[ProcRecord] = field(default_factory=list)
    topology: dict[str, Any] = field(default_factory=dict)  # the validated topology, as JSON
    attached: list[str] = field(default_factory=list)  # vms attached through the API
    notes: list[str] = field(default_factory=list)

    @property
    def path(self) -> Path:
        return Path(self.dir) / STATE_FILE

    def save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2))
        os.replace(tmp, self.path)

    @classmethod
    def load(cls, lab_dir: Path) -> LabState:
        data = json.loads((lab_dir / STATE_FILE).read_text())
        procs = [ProcRecord(**p) for p in data.pop("processes", [])]
        known = set(cls.__dataclass_fields__)
        st = cls(**{k: v for k, v in data.items() if k in known})
        st.processes = procs
        return st


def lab_dir(root: Path, name: str) -> Path:
    return root / name


def list_labs(root: Path) -> list[str]:
    try:
        return sorted(p.name for p in root.iterdir() if (p / STATE_FILE).exists())
    except FileNotFoundError:
        return []
