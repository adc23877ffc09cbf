#!/usr/bin/env python3
"""A slow TCP proxy on 127.0.0.1, used by make-modern.sh to make a `docker pull`
last long enough to be interrupted.

    slowproxy.py LISTEN_PORT UPSTREAM_PORT SLOW_SUBSTRING BYTES_PER_SECOND

Every connection is forwarded to 127.0.0.1:UPSTREAM_PORT.  Once a request on a
connection names a path containing SLOW_SUBSTRING (e.g. a blob digest), the
answers on that connection are sent at BYTES_PER_SECOND; everything else passes
at full speed.
"""
import socket
import sys
import threading
import time

LISTEN, UPSTREAM, SLOW, RATE = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3].encode(), int(sys.argv[4])


def serve(client):
    up = socket.create_connection(("127.0.0.1", UPSTREAM))
    state = {"slow": False}

    def up_to_client():
        try:
            while True:
                data = up.recv(65536 if not state["slow"] else 4096)
                if not data:
                    break
                if state["slow"]:
                    for i in range(0, len(data), 1024):
                        client.sendall(data[i:i + 1024])
                        time.sleep(1024 / RATE)
                else:
                    client.sendall(data)
        except OSError:
            pass
        finally:
            for s in (client, up):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    threading.Thread(target=up_to_client, daemon=True).start()
    try:
        while True:
            data = client.recv(65536)
            if not data:
                break
            if b" /v2/" in data:
                state["slow"] = SLOW in data
            up.sendall(data)
    except OSError:
        pass
    finally:
        try:
            up.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def main():
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", LISTEN))
    srv.listen(16)
    while True:
        c, _ = srv.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


if __name__ == "__main__":
    main()
