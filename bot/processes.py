"""Several web processes on one port (``WEB_PROCESSES``): the primary and its helpers.

One Python process spends most of a core on HTTP, signature checks, validation and redaction, so
a busy intake needs more than one. The primary process runs everything: the HTTP routes, the
outbox poster and the scheduler. Each helper serves the same routes on the same port (the kernel
spreads connections over the listening sockets, ``SO_REUSEPORT``) and runs no background work,
so Slack still sees one poster keeping one pace per channel.

- A helper that queues outbox work (a stored handoff, an approval) sends the primary a one-byte
  datagram on loopback, so the poster starts at once rather than at its next poll.
- A helper reports "listening" the same way; the primary opens its own socket once every helper
  listens (or a start-up timeout passes), then writes "up" to each helper's stdin. Until then a
  helper's ``/healthz`` answers 503 "starting", so a 200 from any process means the whole
  group is up.
- The primary holds the write end of each helper's stdin: when the primary ends, even by SIGKILL,
  the pipe closes and the helper shuts down. The primary restarts a helper that dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "HELPER_INDEX_ENV",
    "KICK_PORT_ENV",
    "READY",
    "HelperRole",
    "HelperStartError",
    "Helpers",
    "KickSender",
    "helper_role",
    "watch_primary",
]

logger = logging.getLogger(__name__)

HELPER_INDEX_ENV = "FHB_HELPER_INDEX"  # set only in helpers: 1, 2, ...
KICK_PORT_ENV = "FHB_KICK_PORT"  # the primary's loopback datagram port
KICK = b"k"
READY = b"r"
UP = b"up\n"
RESTART_DELAY_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class HelperRole:
    index: int
    kick_port: int


def helper_role(environ: dict[str, str] | None = None) -> HelperRole | None:
    """This process's helper role, or None for the primary (or the only) process."""
    env = os.environ if environ is None else environ
    index, port = env.get(HELPER_INDEX_ENV), env.get(KICK_PORT_ENV)
    if not index or not port:
        return None
    return HelperRole(index=int(index), kick_port=int(port))


class KickSender:
    """Send the primary a datagram; a lost one only means the poster waits for its poll."""

    def __init__(self, port: int) -> None:
        self._address = ("127.0.0.1", port)
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.setblocking(False)

    def __call__(self, message: bytes = KICK) -> None:
        with contextlib.suppress(OSError):
            self._socket.sendto(message, self._address)


class HelperStartError(RuntimeError):
    """A helper process exited before it listened (a taken port, a bad setting)."""


class _Listener(asyncio.DatagramProtocol):
    def __init__(self, helpers: Helpers) -> None:
        self._helpers = helpers

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        if data == KICK:
            self._helpers.kick()
        elif data.startswith(READY) and data[len(READY) :].isdigit():
            index = int(data[len(READY) :])
            self._helpers.listening.add(index)
            self._helpers.changed.set()
            if not self._helpers.starting:
                self._helpers.confirm(index)  # a replacement joins a group already up


class Helpers:
    """Start, watch, restart and stop the helper processes of a primary."""

    def __init__(self, count: int, *, kick: Callable[[], None]) -> None:
        self.count = count
        self.kick = kick
        self.listening: set[int] = set()  # helpers that have listened at least once
        self.changed = asyncio.Event()
        self._failed: tuple[int, int | None] | None = None  # (helper, exit code) at start-up
        self.starting = True  # until start() returns
        self._port = 0
        self._transport: asyncio.DatagramTransport | None = None
        self._processes: dict[int, asyncio.subprocess.Process] = {}
        self._watchers: list[asyncio.Task[None]] = []
        self._stopping = False

    async def start(self, *, within: float = 30.0) -> None:
        """Start the helpers and wait until each one listens.

        Raises HelperStartError when one exits first; after ``within`` seconds the primary goes on
        with the helpers it has (the others keep being restarted).
        """
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Listener(self), local_addr=("127.0.0.1", 0)
        )
        self._transport = transport
        self._port = transport.get_extra_info("sockname")[1]
        self._watchers = [
            asyncio.create_task(self._watch(index)) for index in range(1, self.count + 1)
        ]
        try:
            async with asyncio.timeout(within):
                while len(self.listening) < self.count and self._failed is None:
                    self.changed.clear()
                    await self.changed.wait()
        except TimeoutError:
            logger.error(
                "%d of %d web helper process(es) listening after %.0f s; going on without the rest",
                len(self.listening),
                self.count,
                within,
            )
        finally:
            self.starting = False
        if self._failed is not None:
            index, code = self._failed
            await self.stop()
            raise HelperStartError(
                f"web helper {index} exited with {code} before it listened (its log is above)"
            )

    def confirm(self, index: int | None = None) -> None:
        """Tell a listening helper (or every one) that the group is up: it reports ready."""
        for number, process in self._processes.items():
            wanted = (index is None or number == index) and number in self.listening
            if wanted and process.stdin is not None and process.returncode is None:
                with contextlib.suppress(ConnectionError, RuntimeError):
                    process.stdin.write(UP)

    async def _spawn(self, index: int) -> asyncio.subprocess.Process:
        env = dict(os.environ) | {HELPER_INDEX_ENV: str(index), KICK_PORT_ENV: str(self._port)}
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", stdin=asyncio.subprocess.PIPE, env=env
        )

    async def _watch(self, index: int) -> None:
        while not self._stopping:
            process = await self._spawn(index)
            self._processes[index] = process
            code = await process.wait()
            if self._stopping:
                return
            if self.starting and index not in self.listening:
                self._failed = (index, code)
                self.changed.set()
                return
            logger.error("web helper %d exited with %s; restarting it", index, code)
            await asyncio.sleep(RESTART_DELAY_SECONDS)

    async def stop(self, *, grace: float = 10.0) -> None:
        """SIGTERM every helper, wait for them, SIGKILL what is left after ``grace`` s."""
        self._stopping = True
        running = [p for p in self._processes.values() if p.returncode is None]
        for process in running:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
        if running:
            _, late = await asyncio.wait(
                [asyncio.create_task(p.wait()) for p in running], timeout=grace
            )
            for process in running:
                if process.returncode is None:
                    with contextlib.suppress(ProcessLookupError):
                        process.kill()
            if late:
                await asyncio.gather(*late, return_exceptions=True)
        for watcher in self._watchers:
            watcher.cancel()
        await asyncio.gather(*self._watchers, return_exceptions=True)
        for process in self._processes.values():
            if process.stdin is not None:
                process.stdin.close()
        if self._transport is not None:
            self._transport.close()


class _ParentWatch(asyncio.Protocol):
    def __init__(self, on_up: Callable[[], None], on_exit: Callable[[], None]) -> None:
        self._on_up = on_up
        self._on_exit = on_exit

    def data_received(self, data: bytes) -> None:
        if UP.strip() in data:
            self._on_up()

    def connection_lost(self, exc: Exception | None) -> None:
        self._on_exit()


async def watch_primary(*, on_up: Callable[[], None], on_exit: Callable[[], None]) -> None:
    """Follow the primary through stdin: "up" once the group is up, and its end (EOF)."""
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: _ParentWatch(on_up, on_exit), sys.stdin)
