"""A proxy command for tests: relays stdin/stdout to HOST:PORT and notes each use in LOG.

    python3 relay.py HOST PORT LOG
"""

import socket
import sys
import threading

host, port, log = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(log, "a") as out:
    out.write(f"{host}:{port}\n")
connection = socket.create_connection((host, port))


def downstream() -> None:
    while data := connection.recv(65536):
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()


threading.Thread(target=downstream, daemon=True).start()
while data := sys.stdin.buffer.read1(65536):
    connection.sendall(data)
connection.shutdown(socket.SHUT_WR)
