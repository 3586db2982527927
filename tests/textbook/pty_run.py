# Runs a command on a pseudo-terminal as a person would: waits for each prompt, types the next
# line of this script's standard input, and types Ctrl-D after the last. Prints everything the
# terminal showed and exits with the command's exit status. Used to test the client's
# interactive mode, which only a terminal switches on.
import os
import pty
import sys

PROMPT = b"Input lowercase sentence:"

lines = sys.stdin.buffer.read().splitlines(keepends=True)
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])

shown = b""


def read_more():
    """Adds what the terminal shows next to `shown`; False once the command has closed it."""
    global shown
    try:
        chunk = os.read(fd, 4096)
    except OSError:  # EIO: the command has exited
        return False
    shown += chunk
    return bool(chunk)


def wait_for_prompts(count):
    while shown.count(PROMPT) < count and read_more():
        pass


for number, line in enumerate(lines, start=1):
    wait_for_prompts(number)
    os.write(fd, line)
wait_for_prompts(len(lines) + 1)
os.write(fd, b"\x04")
while read_more():
    pass
_, status = os.waitpid(pid, 0)
sys.stdout.buffer.write(shown)
sys.exit(os.waitstatus_to_exitcode(status))
