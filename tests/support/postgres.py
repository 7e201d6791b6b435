"""A private PostgreSQL server for the tests: initdb and pg_ctl in a temporary folder, on a
unix socket in that folder and a free port, as a non-root user when run as root (initdb
refuses root: CI runs as root, so the server runs as `nobody` through runuser)."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Server:
    folder: Path
    port: int
    as_user: list[str]

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@/{database}?host={self.folder}&port={self.port}"

    def stop(self) -> None:
        subprocess.run(
            [*self.as_user, _tool("pg_ctl"), "-D", str(self.folder / "data"), "-m", "immediate",
             "stop"],
            capture_output=True, check=False, timeout=60,
        )  # fmt: skip
        shutil.rmtree(self.folder, ignore_errors=True)


def _tool(name: str) -> str:
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None
    )
    if found is None:
        raise FileNotFoundError(name)
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start() -> Server:
    """Start a server, or raise (OSError, subprocess errors) saying why it could not."""
    initdb, pg_ctl = _tool("initdb"), _tool("pg_ctl")
    folder = Path(tempfile.mkdtemp(prefix="kpi-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        runuser = shutil.which("runuser") or shutil.which("su")
        if runuser is None:
            raise FileNotFoundError("runuser")
        as_user = [runuser, "-u", "nobody", "--"]
        shutil.chown(folder, "nobody")
    port = _free_port()
    try:
        subprocess.run(
            [*as_user, initdb, "-D", str(folder / "data"), "-A", "trust", "-U", "postgres",
             "-E", "UTF8", "--no-locale"],
            capture_output=True, check=True, timeout=120,
        )  # fmt: skip
        subprocess.run(
            [*as_user, pg_ctl, "-D", str(folder / "data"), "-l", str(folder / "log"), "-w",
             "-o", f"-k {folder} -p {port} -c listen_addresses=''", "start"],
            capture_output=True, check=True, timeout=120,
        )  # fmt: skip
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return Server(folder, port, as_user)
