"""Waking the event streams of other processes on SQLite: a loopback UDP datagram per publish.

PostgreSQL carries ``NOTIFY`` to every listening process; SQLite has no such thing, and
polling the events table often enough for a quick wake-up would cost a query per interval
all the time. Processes that share an SQLite file share a machine, so they can ring each
other instead:

* each server process that serves event streams binds a UDP socket on ``127.0.0.1`` (a free
  port) and registers it as an empty file named ``<port>.<pid>`` in a directory beside the
  database (``pcm-ops.db-wakeup/``);
* a publisher, after its transaction commits, sends the stream's name to every registered
  port but its own process's (whose listeners it wakes directly): one ``sendto`` each, no
  query, no reply awaited;
* the receiving process wakes that stream's subscribers, which read the new events.

A datagram carries no data and no authority: it only makes a stream look at the database
sooner, which it would do at the next poll anyway (the poller stays as the safety net for a
datagram that does not arrive, a process in another network namespace, or a registration
lost). Registrations of processes that died are removed by the next process that starts
listening; a live process whose file went missing writes it again at its next poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Callable
from pathlib import Path

logger = logging.getLogger("pcm_ops.jobs")

#: Every datagram starts with this, so that a stray packet is not taken for a stream name.
PREFIX = b"pcm-ops-event "
LOOPBACK = "127.0.0.1"


def wakeup_directory(database_url: str, suffix: str = "-wakeup") -> Path | None:
    """Where the listeners on the SQLite database ``database_url`` register (``<file>-wakeup``
    beside it; the job executors' queue listeners use ``suffix`` ``-queue-wakeup``), or
    ``None`` for another database or an in-memory one."""
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database + suffix)


def _registrations(directory: Path) -> list[tuple[int, int]]:
    """``(port, pid)`` of every registered listener."""
    found = []
    try:
        entries = os.listdir(directory)
    except OSError:
        return []
    for name in entries:
        port, _, pid = name.partition(".")
        if port.isdigit() and pid.isdigit():
            found.append((int(port), int(pid)))
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def ensure_registered(registration: Path) -> None:
    """Write a listener's registration (``<directory>/<port>.<pid>``) if it is missing
    (cheap: one ``stat``); a failure is logged, the poller covers for it."""
    if registration.exists():
        return
    try:
        registration.parent.mkdir(mode=0o700, exist_ok=True)
        registration.touch()
    except OSError as exc:
        logger.debug("cannot register for wake-ups in %s: %s", registration.parent, exc)


def libpq_dsn(database_url: str) -> str:
    """``database_url`` (a PostgreSQL URL of SQLAlchemy's) as psycopg connects to it, for
    the ``LISTEN`` connections of the wake-ups."""
    from sqlalchemy.engine import make_url

    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def remove_dead_registrations(directory: Path) -> None:
    """Delete the registrations of processes that no longer run."""
    for port, pid in _registrations(directory):
        if not _alive(pid):
            with contextlib.suppress(OSError):
                (directory / f"{port}.{pid}").unlink()


class Doorbell:
    """The publisher's side: rings every other process's listener after a publish."""

    def __init__(self, directory: Path, prefix: bytes = PREFIX) -> None:
        self.directory = directory
        self.prefix = prefix
        # One socket for every publishing thread: sendto on a UDP socket is thread-safe.
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.setblocking(False)

    def ring(self, stream: str) -> None:
        """Tell the other processes' listeners that ``stream`` has news; never raises."""
        own_pid = os.getpid()
        targets = [port for port, pid in _registrations(self.directory) if pid != own_pid]
        message = self.prefix + stream.encode()
        for port in targets:
            try:
                self._socket.sendto(message, (LOOPBACK, port))
            except OSError as exc:  # a full buffer, a closed socket: the poller covers it
                logger.debug("could not wake the event listener on port %d: %s", port, exc)

    def close(self) -> None:
        self._socket.close()


class _Receiver(asyncio.DatagramProtocol):
    def __init__(self, wake: Callable[[str], None]) -> None:
        self.wake = wake

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        if data.startswith(PREFIX):
            self.wake(data[len(PREFIX) :].decode("ascii", errors="replace"))


class Listener:
    """The receiving side, in the event loop of a server process: calls ``wake(stream)``
    for each datagram."""

    def __init__(self, directory: Path, wake: Callable[[str], None]) -> None:
        self.directory = directory
        self.wake = wake
        self._transport: asyncio.DatagramTransport | None = None
        self._registration: Path | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        transport, _protocol = await loop.create_datagram_endpoint(
            lambda: _Receiver(self.wake), local_addr=(LOOPBACK, 0)
        )
        self._transport = transport
        port = transport.get_extra_info("sockname")[1]
        self._registration = self.directory / f"{port}.{os.getpid()}"
        self._remove_dead()
        self.ensure_registered()

    def ensure_registered(self) -> None:
        """Write this listener's registration if it is missing (cheap: one ``stat``)."""
        if self._registration is not None:
            ensure_registered(self._registration)

    def _remove_dead(self) -> None:
        remove_dead_registrations(self.directory)

    def stop(self) -> None:
        if self._registration is not None:
            with contextlib.suppress(OSError):
                self._registration.unlink()
            self._registration = None
        if self._transport is not None:
            self._transport.close()
            self._transport = None


__all__ = [
    "Doorbell",
    "Listener",
    "ensure_registered",
    "libpq_dsn",
    "remove_dead_registrations",
    "wakeup_directory",
]
