# Starts a program the way systemd's socket activation does: a listening TCP socket and a UDP
# socket on one free loopback port, passed as file descriptors 3 and 4 with LISTEN_FDS=2 and
# LISTEN_PID set to the program's process id (the same as this one's: it execs in place).
#
#   python3 socket_activate.py [tcp|udp|both|file] PROGRAM ARG...
#
# `file` passes a regular file instead, as a broken unit might.
import os
import socket
import sys

kind, program = sys.argv[1], sys.argv[2:]
passed = []
if kind in ("tcp", "both"):
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.bind(("127.0.0.1", 0))
    tcp.listen(16)
    passed.append(tcp.fileno())
if kind in ("udp", "both"):
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", passed and tcp.getsockname()[1] or 0))
    passed.append(udp.fileno())
if kind == "file":
    passed.append(os.open(os.devnull, os.O_RDONLY))
for target, fd in enumerate(passed, start=3):
    os.dup2(fd, target)
    os.set_inheritable(target, True)
os.environ["LISTEN_FDS"] = str(len(passed))
os.environ["LISTEN_PID"] = str(os.getpid())
os.execv(program[0], program)
