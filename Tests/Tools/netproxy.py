#!/usr/bin/env python3
"""A TCP relay for the sync tests: forwards 127.0.0.1:<port> to an upstream
port, optionally as a TLS endpoint (the test's self-signed certificate) and
optionally as a bad village link that delays, throttles and breaks
connections at random.

Faults, per exchange (a request going up, then its reply coming back):
  cut     the request is cut after a random part of it; the server never
          sees it whole, so nothing is stored
  lose    the request reaches the server whole, but the connection is closed
          as its reply starts: the server has stored the batch and the
          client does not know
  refuse  a new connection is closed before anything is read

Prints "listening <port>" on its first line, then one line per fault, and on
SIGTERM a summary line "faults cut=N lose=N refuse=N connections=N".
"""

import argparse
import random
import signal
import socket
import ssl
import sys
import threading
import time

parser = argparse.ArgumentParser()
parser.add_argument("--upstream", type=int, required=True)
parser.add_argument("--cert")
parser.add_argument("--key")
parser.add_argument("--seed", type=int, default=1)
parser.add_argument("--cut", type=float, default=0.0, help="probability that a request is cut")
parser.add_argument("--lose", type=float, default=0.0, help="probability that a reply is lost")
parser.add_argument("--refuse", type=float, default=0.0, help="probability that a connection is closed at once")
parser.add_argument("--delay", type=float, default=0.0, help="maximum delay per chunk, seconds")
parser.add_argument("--rate", type=int, default=0, help="bytes per second per direction (0: no limit)")
args = parser.parse_args()

rng = random.Random(args.seed)
rng_lock = threading.Lock()
counts = {"cut": 0, "lose": 0, "refuse": 0, "connections": 0}
out_lock = threading.Lock()


def roll(probability):
    with rng_lock:
        return rng.random() < probability


def uniform(low, high):
    with rng_lock:
        return rng.uniform(low, high)


def say(line):
    with out_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def fault(kind):
    with out_lock:
        counts[kind] += 1
    say(kind)


def summary(*_):
    say("faults cut=%d lose=%d refuse=%d connections=%d" % (counts["cut"], counts["lose"], counts["refuse"], counts["connections"]))
    sys.exit(0)


signal.signal(signal.SIGTERM, summary)
# The test runner may start this with signals blocked; take them back.
signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM, signal.SIGINT])


def close(*sockets):
    for s in sockets:
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            s.close()
        except OSError:
            pass


def pace(chunk):
    if args.delay > 0:
        time.sleep(uniform(0, args.delay))
    if args.rate > 0:
        time.sleep(len(chunk) / args.rate)


class Link:
    """One client connection and its upstream connection."""

    def __init__(self, client):
        self.client = client
        self.upstream = socket.create_connection(("127.0.0.1", args.upstream))
        self.lock = threading.Lock()
        # Which way bytes went last: a change of direction starts a new
        # request (client to server) or a new reply (server to client).
        self.last = None
        self.dead = False

    def turn(self, direction):
        with self.lock:
            started = self.last != direction
            self.last = direction
            return started

    def kill(self):
        self.dead = True
        close(self.client, self.upstream)

    def up(self):
        try:
            while not self.dead:
                chunk = self.client.recv(16384)
                if not chunk:
                    break
                if self.turn("up") and roll(args.cut):
                    part = chunk[: int(len(chunk) * uniform(0, 0.9))]
                    if part:
                        self.upstream.sendall(part)
                    fault("cut")
                    break
                pace(chunk)
                self.upstream.sendall(chunk)
        except OSError:
            pass
        self.kill()

    def down(self):
        try:
            while not self.dead:
                chunk = self.upstream.recv(16384)
                if not chunk:
                    break
                if self.turn("down") and roll(args.lose):
                    fault("lose")
                    break
                pace(chunk)
                self.client.sendall(chunk)
        except OSError:
            pass
        self.kill()


def serve(client):
    try:
        if context is not None:
            client.settimeout(10)
            client = context.wrap_socket(client, server_side=True)
            client.settimeout(None)
        link = Link(client)
    except (OSError, ssl.SSLError):
        close(client)
        return
    threading.Thread(target=link.down, daemon=True).start()
    link.up()


context = None
if args.cert:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)

listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", 0))
listener.listen(64)
say("listening %d" % listener.getsockname()[1])

while True:
    connection, _ = listener.accept()
    with out_lock:
        counts["connections"] += 1
    if roll(args.refuse):
        fault("refuse")
        close(connection)
        continue
    # The TLS handshake happens on the connection's own thread, so a client
    # that gives up mid-handshake does not stop the others.
    threading.Thread(target=serve, args=(connection,), daemon=True).start()
