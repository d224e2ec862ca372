"""PostgreSQL backend that starts the embedded server on the first connection of a process.

Everything else is Django's own PostgreSQL backend: the embedded server is a real PostgreSQL 16.
"""

from pathlib import Path

from django.db.backends.postgresql import base

from . import server as embedded

_ready: set[tuple[str, str]] = set()


class DatabaseWrapper(base.DatabaseWrapper):
    def get_new_connection(self, conn_params):
        data_dir = Path(self.settings_dict["LOYALTY_DATA_DIR"])
        dbname = conn_params.get("dbname", "")
        key = (str(data_dir), dbname)
        if key not in _ready:
            server, _ = embedded.ensure_running(data_dir)
            # Only the configured database is created on demand; the test runner creates its own.
            if dbname and dbname == self.settings_dict.get("LOYALTY_AUTOCREATE"):
                embedded.ensure_database(server, dbname)
            _ready.add(key)
        try:
            return super().get_new_connection(conn_params)
        except Exception:
            # The server may have been stopped since; check again on the next attempt.
            _ready.discard(key)
            raise
