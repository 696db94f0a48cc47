#!/usr/bin/env python3
# Run from the repository root after `cargo build --release --bin dlm --example bench_server`:
#   python3 benches/tui_many.py [COUNT] [JOBS] [DLM_BINARY]     (default 100000 32 target/release/dlm)
"""The terminal UI holding and downloading many tiny files, against `dlm get` on the same list.

Starts the loopback bench server (examples/bench_server.rs), then the UI in a pseudo-terminal
(`dlm -j JOBS`, its own state folder, so the saved queue is written as in real use), adds COUNT
URLs of 1-byte files to it with `dlm add -i` in batches of 10,000, waits until every file is on
disk, and quits it with `q`. CPU time (user + system) and peak RSS come from wait4(), so they
cover the whole process life, quitting and the last save included. Then `dlm get -q -j JOBS`
downloads the same list into another folder and is measured the same way. Prints one line per
front end and the CPU ratio."""
import os, pty, signal, subprocess, sys, tempfile, time, fcntl, termios, struct

count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
jobs = sys.argv[2] if len(sys.argv) > 2 else "32"
dlm = os.path.abspath(sys.argv[3] if len(sys.argv) > 3 else "target/release/dlm")
BATCH = 10_000

work = tempfile.mkdtemp(prefix="dlm-many-")
server = subprocess.Popen(["target/release/examples/bench_server"], stdout=subprocess.PIPE, text=True)
addr = server.stdout.readline().split()[-1]
urls = [f"http://{addr}/f/t{i:06d}.bin?size=1" for i in range(count)]
env = dict(os.environ, DLM_STATE_DIR=f"{work}/state", DLM_RUNTIME_DIR=f"{work}/state",
           DLM_CONFIG=f"{work}/config.toml", TERM="xterm-256color")
for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
    env.pop(var, None)
open(f"{work}/config.toml", "w").close()


def finished_files(folder):
    return sum(1 for e in os.scandir(folder) if not e.name.endswith((".part", ".dlm")))


def report(name, wall, usage):
    cpu = usage.ru_utime + usage.ru_stime
    print(f"{name:<10} {count} files  wall {wall:7.1f} s  cpu {cpu:7.1f} s "
          f"(user {usage.ru_utime:.1f}, sys {usage.ru_stime:.1f})  peak RSS {usage.ru_maxrss / 1024:7.1f} MiB",
          flush=True)
    return cpu


try:
    # The UI in a pseudo-terminal; its screen is read and thrown away.
    ui_out = f"{work}/ui"
    os.makedirs(ui_out)
    pid, fd = pty.fork()
    if pid == 0:
        os.execve(dlm, ["dlm", "-j", jobs, "-o", ui_out], env)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    os.set_blocking(fd, False)

    def drain():
        try:
            while os.read(fd, 1 << 16):
                pass
        except (BlockingIOError, OSError):
            pass

    started = time.time()
    while not os.path.exists(f"{work}/state/dlm.sock") and time.time() - started < 20:
        drain(); time.sleep(0.05)
    for start in range(0, count, BATCH):
        with open(f"{work}/batch.txt", "w") as f:
            f.write("\n".join(urls[start:start + BATCH]) + "\n")
        subprocess.run([dlm, "add", "-o", ui_out, "-i", f"{work}/batch.txt"], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        drain()
    while finished_files(ui_out) < count:
        drain(); time.sleep(0.2)
        if time.time() - started > 3600:
            sys.exit("the UI did not finish within an hour")
    wall = time.time() - started
    # Everything is done, so `q` quits without asking.
    os.write(fd, b"q")
    while True:
        drain()
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.05)
    ui_cpu = report("ui", wall, usage)
    queue = [f for f in os.listdir(f"{work}/state") if f.startswith("queue")]
    sizes = ", ".join(f"{f} {os.path.getsize(f'{work}/state/{f}') / 2**20:.1f} MiB" for f in sorted(queue))
    print(f"           saved queue: {sizes}", flush=True)

    get_out = f"{work}/get"
    os.makedirs(get_out)
    with open(f"{work}/all.txt", "w") as f:
        f.write("\n".join(urls) + "\n")
    started = time.time()
    proc = subprocess.Popen([dlm, "get", "-q", "-j", jobs, "-o", get_out, "-i", f"{work}/all.txt"], env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.time() - started
    assert finished_files(get_out) == count, "dlm get did not fetch every file"
    get_cpu = report("dlm get", wall, usage)
    print(f"ui / dlm get CPU: {ui_cpu / get_cpu:.2f}x")
finally:
    server.send_signal(signal.SIGKILL)
    subprocess.run(["rm", "-rf", work])
