"""Embedded servers for `callwright dev` and for tests: PostgreSQL, Redis and Temporal.

Each server runs as a foreground child process of ours, bound to 127.0.0.1, with its output in
`<data_dir>/logs/<service>.log` (or `<log_dir>/<service>.log`). We never daemonize them: a child
we own cannot outlive a `stop()` or be mistaken for someone else's server. The children stay in
our process group, so Ctrl-C in a terminal reaches them too; on Linux they also get their
shutdown signal when our process dies of anything, SIGTERM and SIGKILL included. That signal is
tied to the *thread* that called start(), so call it from the main thread (or one that lives as
long as the servers).

Exceptions:

    ServiceError            base class of everything raised here
    ├── ServiceStartError   a server exited or was not ready in time (message has its log tail)
    └── ServiceNotInstalledError  the package that bundles a server's binary is missing
    PortBusyError(ValueError)     a port we were asked to use is taken

Modules: `base` (the errors, port helpers and the EmbeddedService base class), `postgres`,
`redis` and `temporal` (one server each).
"""

from workers.services.base import (
    LOOPBACK,
    EmbeddedService,
    PortBusyError,
    ServiceError,
    ServiceNotInstalledError,
    ServiceStartError,
    check_port_free,
    find_free_port,
    parent_death_hook,
)
from workers.services.postgres import EmbeddedPostgres
from workers.services.redis import EmbeddedRedis
from workers.services.temporal import EmbeddedTemporal

__all__ = [
    "LOOPBACK",
    "EmbeddedPostgres",
    "EmbeddedRedis",
    "EmbeddedService",
    "EmbeddedTemporal",
    "PortBusyError",
    "ServiceError",
    "ServiceNotInstalledError",
    "ServiceStartError",
    "check_port_free",
    "find_free_port",
    "parent_death_hook",
]
