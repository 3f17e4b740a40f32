"""A loopback HTTP server for update repositories that honours ``Range``, counts bytes and can cut connections."""

from __future__ import annotations

import functools
import re
import socket
import threading
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

RANGE_RE = re.compile(r"^bytes=(\d+)-(\d*)$")


class RangeServer:
    """Serve ``directory`` on 127.0.0.1; ``ranges=False`` answers every request whole (200), as many servers do.

    ``cut_after``: after that many body bytes of release files (anything under ``/targets/`` that is not
    JSON) have been sent in total, the connection is cut mid-file, and every later release file is cut
    at once, like a server that died. ``sent`` counts release-file body bytes actually written;
    ``requests`` lists ``(path, status, range header)``.
    """

    def __init__(self, directory: Path, *, ranges: bool = True, cut_after: int | None = None) -> None:
        self.directory, self.ranges, self.cut_after = directory, ranges, cut_after
        self.sent = 0
        self.requests: list[tuple[str, int, str]] = []
        self.lock = threading.Lock()
        server = self

        class Handler(SimpleHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:  # http.server's name
                path = Path(self.translate_path(self.path))
                asked = self.headers.get("Range", "")
                if not path.is_file():
                    server._log(self.path, 404, asked)
                    self.send_error(HTTPStatus.NOT_FOUND)
                    return
                size = path.stat().st_size
                start, end = 0, size - 1
                status = 200
                match = RANGE_RE.match(asked) if server.ranges and asked else None
                if match:
                    start = int(match.group(1))
                    end = min(int(match.group(2)), size - 1) if match.group(2) else size - 1
                    if start >= size:
                        server._log(self.path, 416, asked)
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{size}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    status = 206
                server._log(self.path, status, asked)
                self.send_response(status)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(end - start + 1))
                if status == 206:
                    self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
                if server.ranges:
                    self.send_header("Accept-Ranges", "bytes")
                self.end_headers()
                counted = "/targets/" in self.path and not self.path.endswith(".json")
                with path.open("rb") as handle:
                    handle.seek(start)
                    left = end - start + 1
                    while left > 0:
                        chunk = handle.read(min(64 * 1024, left))
                        if not chunk:
                            break
                        if counted:
                            allowed = server._allow(len(chunk))
                            if allowed < len(chunk):
                                self.wfile.write(chunk[:allowed])
                                self.wfile.flush()
                                server._add(allowed)
                                self.close_connection = True
                                self.connection.shutdown(socket.SHUT_RDWR)
                                return
                            server._add(len(chunk))
                        self.wfile.write(chunk)
                        left -= len(chunk)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(directory)))
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def _log(self, path: str, status: int, asked: str) -> None:
        with self.lock:
            self.requests.append((path, status, asked))

    def _allow(self, size: int) -> int:
        with self.lock:
            if self.cut_after is None:
                return size
            return max(0, min(size, self.cut_after - self.sent))

    def _add(self, size: int) -> None:
        with self.lock:
            self.sent += size

    def paths(self) -> list[str]:
        return [path for path, _status, _asked in self.requests]

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
