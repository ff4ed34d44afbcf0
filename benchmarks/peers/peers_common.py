"""What the peer benchmarks share: their virtualenvs, and the CPU time of a process tree."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SIDE = HERE / "side"  # modules that run inside a peer's virtualenv
# The benchmark scripts one folder up (outbound.py, inbound.py, ...) are importable from here.
sys.path.insert(0, str(HERE.parent))


def venv(name: str, packages: list[str]) -> Path:
    """benchmarks/peers/.venv-`name` with `packages` installed (created on first use); its bin."""
    folder = HERE / f".venv-{name}"
    stamp = folder / ".installed"
    wanted = "\n".join(packages)
    if not stamp.exists() or stamp.read_text() != wanted:
        print(f"installing {' '.join(packages)} into {folder}", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
        pip = [str(folder / "bin" / "python"), "-m", "pip", "install", "--quiet"]
        subprocess.run([*pip, *packages], check=True)
        stamp.write_text(wanted)
    return folder / "bin"


def tree_cpu(root: int) -> float:
    """CPU seconds used by process `root`, its live descendants, and the children it has reaped
    (a worker forking a process per job); 0 for a process that is gone."""
    ticks = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    used: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_bytes().rpartition(b")")[2].split()
        except OSError:
            continue
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        own = int(fields[11]) + int(fields[12])
        reaped = int(fields[13]) + int(fields[14])
        used[pid] = own + (reaped if pid == root else 0)
    total = 0.0
    for pid, cpu in used.items():
        walk = pid
        while walk > 1 and walk != root:
            walk = parents.get(walk, 0)
        if walk == root:
            total += cpu
    return total / ticks
