"""TCP relay from the host's loopback into a network namespace (the live cluster's nodes have no
route to the host, and the tests change nothing in the host's network).

    python -m tests.zabbix.relay LISTEN_PORT NS_PID TARGET_PORT

The listening socket is made first, in the host namespace; then the process joins the network
namespace of NS_PID (setns(2)), so every connection it opens reaches 127.0.0.1:TARGET_PORT
inside that namespace. A socket keeps the namespace it was created in.
"""

from __future__ import annotations

import ctypes
import os
import socket
import sys
import threading

CLONE_NEWNET = 0x40000000


def _pipe(a: socket.socket, b: socket.socket) -> None:
    try:
        while True:
            data = a.recv(65536)
            if not data:
                break
            b.sendall(data)
    except OSError:
        pass
    finally:
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def main(argv: list) -> int:
    listen_port, ns_pid, target_port = int(argv[0]), int(argv[1]), int(argv[2])
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", listen_port))
    srv.listen(16)
    fd = os.open(f"/proc/{ns_pid}/ns/net", os.O_RDONLY)
    if ctypes.CDLL(None, use_errno=True).setns(fd, CLONE_NEWNET) != 0:
        print(f"setns: {os.strerror(ctypes.get_errno())}", file=sys.stderr)
        return 1
    print("ready", flush=True)
    while True:
        client, _ = srv.accept()
        try:
            upstream = socket.create_connection(("127.0.0.1", target_port), timeout=10)
        except OSError:
            client.close()
            continue
        upstream.settimeout(None)
        threading.Thread(target=_pipe, args=(client, upstream), daemon=True).start()
        threading.Thread(target=_pipe, args=(upstream, client), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
