"""Where `statefun serve` listens: bound before any worker starts, so all share it."""

from __future__ import annotations

import logging
import os
import socket
import stat
from pathlib import Path

from .._unix import split_unix_url, unix_url
from ..loader import CliError
from ._options import ServeOptions

logger = logging.getLogger("statefun")

# Connections the kernel queues while every worker is busy; aiohttp's own default.
BACKLOG = 128


class Listener:
    """The bound sockets of one `statefun serve`: the functions', and the metrics' if apart.

    Bound in the process that forks the workers, so that every worker accepts on
    the same socket (the kernel hands each connection to one of them) and the
    ``serving`` line names the port before any worker runs.
    """

    def __init__(
        self,
        sock: socket.socket,
        where: str,
        socket_file: SocketFile | None = None,
        metrics: socket.socket | None = None,
        metrics_where: str | None = None,
    ) -> None:
        self.socket = sock
        self.where = where
        self.socket_file = socket_file
        self.metrics = metrics
        self.metrics_where = metrics_where

    @classmethod
    def bind(cls, options: ServeOptions) -> Listener:
        """Bind and listen as ``options`` say; raise CliError for an address it cannot use."""
        socket_file = None
        if options.uds is not None:
            socket_file = SocketFile.bind(options.uds, options.uds_mode)
            sock = socket_file.socket
            where = unix_url(socket_file.path, options.path)
        else:
            sock = _tcp(options.host, options.port, "")
            scheme = "https" if options.tls is not None else "http"
            where = f"{scheme}://{options.host}:{sock.getsockname()[1]}{options.path}"
        try:
            sock.listen(BACKLOG)
            metrics = metrics_where = None
            if (
                options.metrics or options.metrics_port is not None
            ) and options.metrics_port is not None:
                metrics = _tcp(options.host, options.metrics_port, " (--metrics-port)")
                metrics.listen(BACKLOG)
                metrics_where = f"http://{options.host}:{metrics.getsockname()[1]}/metrics"
        except BaseException:
            if socket_file is not None:
                socket_file.remove()
            else:
                sock.close()
            raise
        return cls(sock, where, socket_file, metrics, metrics_where)

    def close(self) -> None:
        """Close the sockets, and remove the socket file (unless another server's by now)."""
        if self.metrics is not None:
            self.metrics.close()
        if self.socket_file is not None:
            self.socket_file.remove()
        else:
            self.socket.close()


def _tcp(host: str, port: int, option: str) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family, backlog=BACKLOG)
    except OSError as exc:
        # create_server's own message repeats the address: the errno's name is enough.
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise CliError(f"cannot listen on {host}:{port}{option}: {reason}") from None


class SocketFile:
    """A Unix socket file this process bound: removed at exit, unless replaced since."""

    def __init__(self, path: str, sock: socket.socket) -> None:
        self.path = path
        self.socket = sock
        found = os.stat(path)
        self._identity = (found.st_dev, found.st_ino)

    @classmethod
    def bind(cls, given: Path, mode: int) -> SocketFile:
        """Bind a socket at ``given`` with ``mode``, replacing a stale socket file there.

        Raises CliError for a name the runtime cannot use, a file that is not a
        socket, a socket another process listens on, and a path it cannot bind.
        """
        path = os.path.abspath(given)  # the runtime needs it whole; `..` taken out
        found = split_unix_url(unix_url(path, "/"))
        if found is None:
            raise CliError(
                f"--uds {given}: the file name must end in `.sock`; the runtime finds the"
                " socket in an `http+unix://` URL by that suffix"
            )
        if found[0] != path:
            raise CliError(
                f"--uds {given}: the folder {found[0]} ends in `.sock`, so the runtime would"
                " take it for the socket; put the socket where only its own name does"
            )
        remove_stale(path, given)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        # Bound under a umask that leaves only the owner in, then opened up to `mode`:
        # the file is never more open than asked, not even for an instant.
        umask = os.umask(0o177)
        try:
            sock.bind(path)
        except OSError as exc:
            sock.close()
            raise CliError(f"cannot listen on --uds {given}: {exc.strerror or exc}") from None
        finally:
            os.umask(umask)
        try:
            os.chmod(path, mode)
            return cls(path, sock)
        except OSError as exc:
            sock.close()
            os.unlink(path)
            raise CliError(f"cannot set --uds-mode on {given}: {exc.strerror or exc}") from None

    def remove(self) -> None:
        """Remove the file, if it is still the one bound: a newer server's stays."""
        self.socket.close()
        try:
            found = os.stat(self.path)
            if (found.st_dev, found.st_ino) == self._identity:
                os.unlink(self.path)
        except OSError:
            pass  # already gone, or its folder too: nothing left to clean


def remove_stale(path: str, given: Path) -> None:
    """Remove a socket file no process listens on; raise CliError for anything else there."""
    try:
        found = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise CliError(f"cannot listen on --uds {given}: {exc.strerror or exc}") from None
    if not stat.S_ISSOCK(found.st_mode):
        raise CliError(f"--uds {given} exists and is not a socket: not replacing it")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(path)
    except (ConnectionRefusedError, FileNotFoundError):
        pass  # left by a process that was killed
    except OSError as exc:
        raise CliError(f"cannot listen on --uds {given}: {exc.strerror or exc}") from None
    else:
        raise CliError(f"--uds {given}: another process is listening on it")
    finally:
        probe.close()
    try:
        os.unlink(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise CliError(f"cannot remove the stale --uds {given}: {exc.strerror or exc}") from None
    logger.info("removed the stale socket file %s, which no process listened on", path)
