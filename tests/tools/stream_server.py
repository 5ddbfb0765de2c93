#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A small streaming HTTP/1.1 server for the telemetry tests: it answers GET /stream with a
chunked text/event-stream response whose chunks leave on a fixed schedule, the way an LLM
server streams tokens, and logs when each chunk actually left.

Usage: stream_server.py PORT LOG FIRST_MS GAP_MS CHUNKS

Each request: the head goes out at once, the first chunk FIRST_MS after the request reached
the socket (the kernel's receive timestamp, SO_TIMESTAMPNS: not when this process got around to
reading it), then one chunk every GAP_MS, CHUNKS in all, then the last (empty) chunk. LOG gets
one line per request: the milliseconds from that timestamp to sending each chunk.
Any request for /status/NNN gets an empty response with status NNN instead (the benchmark
makes many label sets with it). Keep-alive: the connection stays open for the next request.
"""
import socket
import struct
import sys
import threading
import time

# Linux's SO_TIMESTAMPNS (SO_TIMESTAMPNS_OLD, a struct timespec of two 64-bit fields on 64-bit
# machines); Python's socket module does not name it
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)


def serve(conn, log, first_ms, gap_ms, chunks):
    buf = b""
    with conn:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        while True:
            t0 = None
            while b"\r\n\r\n" not in buf:
                data, anc, _, _ = conn.recvmsg(4096, 1024)
                if not data:
                    return
                for level, kind, val in anc:
                    if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                        sec, nsec = struct.unpack("qq", val[:16])
                        t0 = t0 or sec + nsec / 1e9
                buf += data
            head, buf = buf.split(b"\r\n\r\n", 1)
            t0 = t0 or time.time()
            target = head.split(b" ", 2)[1] if head.count(b" ") >= 2 else b""
            if target.startswith(b"/status/"):
                code = int(target[8:11] or b"200")
                conn.sendall(b"HTTP/1.1 %d X\r\nContent-Length: 0\r\n\r\n" % code)
                continue
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                         b"Transfer-Encoding: chunked\r\n\r\n")
            sent = []
            for i in range(chunks):
                due = t0 + (first_ms + i * gap_ms) / 1000.0
                time.sleep(max(0.0, due - time.time()))
                body = b"data: token%d\n\n" % i
                conn.sendall(b"%x\r\n%s\r\n" % (len(body), body))
                sent.append((time.time() - t0) * 1000.0)
            conn.sendall(b"0\r\n\r\n")
            with open(log, "a") as f:
                f.write(" ".join("%.3f" % s for s in sent) + "\n")


def main():
    port, log = int(sys.argv[1]), sys.argv[2]
    first_ms, gap_ms, chunks = float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", port))
    srv.listen(16)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn, log, first_ms, gap_ms, chunks),
                         daemon=True).start()


if __name__ == "__main__":
    main()
