#!/usr/bin/env python3
# Run from the repository root after `cargo build --release`: python3 benches/idle_cpu.py
"""Idle CPU of the dlm UI: start the release binary in a pseudo-terminal with an empty queue,
let it settle for 2 s, then sum the CPU time of all its threads (/proc/PID/task/*/schedstat,
nanoseconds) and context switches over 10 s."""
import glob, os, pty, tempfile, time, fcntl, termios, struct, signal

def cpu_and_switches(pid):
    ns = switches = 0
    for task in glob.glob(f"/proc/{pid}/task/*"):
        ns += int(open(f"{task}/schedstat").read().split()[0])
        for line in open(f"{task}/status"):
            if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                switches += int(line.split()[1])
    return ns, switches

state = tempfile.mkdtemp()
open(f"{state}/config.toml", "w").close()
pid, fd = pty.fork()
if pid == 0:
    os.environ.update(TERM="xterm-256color", DLM_STATE_DIR=state, DLM_RUNTIME_DIR=state,
                      DLM_CONFIG=f"{state}/config.toml")
    os.execv("target/release/dlm", ["dlm", "-o", state])
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
os.set_blocking(fd, False)
def drain():
    try:
        while os.read(fd, 65536):
            pass
    except (BlockingIOError, OSError):
        pass
end = time.time() + 2
while time.time() < end:
    drain(); time.sleep(0.05)
assert os.waitpid(pid, os.WNOHANG) == (0, 0), "dlm exited"
ns0, sw0 = cpu_and_switches(pid)
end = time.time() + 10
while time.time() < end:
    drain(); time.sleep(0.5)
ns1, sw1 = cpu_and_switches(pid)
print(f"idle 10 s: {(ns1 - ns0) / 1e6:.2f} ms CPU, {sw1 - sw0} context switches "
      f"({(ns1 - ns0) / 1e8:.4f} % of a core)")
os.kill(pid, signal.SIGKILL)
