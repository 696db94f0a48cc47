#!/usr/bin/env python3
"""dlm beside the download tools a user is likely to have, on loopback, from this repository alone.

Starts its own servers on free ports: the tests' server as a process (examples/bench_server.rs,
plain HTTP and HTTPS with a certificate made at start), a proxy in this file that adds 40 ms
each way, and nginx when it is installed. Runs dlm and each of curl, wget2, aria2c and axel
that is installed ("skipped: not installed" otherwise) on the same scenarios, RUNS times each,
and checks every downloaded file's SHA-256 against the server's own generator (computed
without HTTP): a tool that is fast but wrong shows FAIL. Figures per tool and scenario: median
wall time, median CPU time (user+sys of the tool's process and its threads), highest peak RSS,
and MB/s of payload (10^6 bytes) at the median wall time.

Usage: benches/compare.py [--runs N] [--only SCENARIO,...] [--tools TOOL,...] [--markdown]
                          [--no-build] [--dlm PATH]
Run from anywhere; it builds `target/release/dlm` and the server example first unless told
not to. Python 3.9+ standard library only; Linux (wait4, pidfd_open).
Numbers depend on the machine and its load: compare tools within one run, as ratios.
"""
import argparse
import asyncio
import hashlib
import os
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
SERVER_BIN = os.path.join(TARGET, "release", "examples", "bench_server")
KIB, MIB, GIB = 1 << 10, 1 << 20, 1 << 30
JOBS = 16  # files at once, for every tool that downloads several files at once
THROTTLE = 8_000_000  # bytes/s per connection in the throttled scenario
ONE_WAY_MS = 40  # the latency proxy's delay each way: 80 ms round trip
PEERS = ["curl", "wget2", "aria2c", "axel"]


class Scenario:
    def __init__(self, name, what, files, server, conns=1, query=""):
        self.name, self.what, self.files = name, what, files  # files: [(name, size)]
        self.server, self.conns, self.query = server, conns, query

    @property
    def payload(self):
        return sum(size for _, size in self.files)


SCENARIOS = [
    Scenario("latency-small", "200 × 100 KiB through a proxy adding 80 ms round trip, 16 at a time",
             [(f"s{i:04d}.bin", 100 * KIB) for i in range(200)], "latency"),
    Scenario("tiny-many", "5,000 × 4 KiB, 16 at a time: per-file overhead",
             [(f"t{i:05d}.bin", 4 * KIB) for i in range(5000)], "http"),
    Scenario("big-1g", "one 1 GiB file over one connection: throughput, CPU per byte",
             [("big.bin", GIB)], "http"),
    Scenario("throttled-128m", "one 128 MiB file, the server limits each connection (to about "
             "5 MB/s: throttle=8000000 paces in whole milliseconds); 16 connections for the tools "
             "that split a file (dlm, aria2c, axel)", [("mid.bin", 128 * MIB)], "http",
             conns=16, query=f"&throttle={THROTTLE}"),
    Scenario("https-big-1g", "one 1 GiB file over HTTPS (HTTP/2 offered), one connection",
             [("big.bin", GIB)], "https"),
    Scenario("nginx-big-1g", "one 1 GiB file from nginx (sendfile), one connection",
             [("big.bin", GIB)], "nginx"),
    Scenario("nginx-tiny-many", "5,000 × 4 KiB from nginx, 16 at a time",
             [(f"t{i:05d}.bin", 4 * KIB) for i in range(5000)], "nginx"),
]


def command(tool, sc, out, lst, curl_cfg, url, ca, dlm):
    """The tool's command line for one run: JOBS files at once, sc.conns connections per file,
    saving into `out`, trusting the CA file `ca` over HTTPS (axel has no such option: -k)."""
    x, https = sc.conns, sc.server == "https"
    if tool == "dlm":
        return [dlm, "get", "-q", "-j", str(JOBS), "-x", str(x), "-o", out, "-i", lst] + (
            ["--ca-file", ca] if https else [])
    if tool == "aria2c":
        return ["aria2c", "-q", f"-j{JOBS}", f"-x{x}", f"-s{x}", "-k1M", "--file-allocation=none",
                "--auto-file-renaming=false", "-d", out, "-i", lst] + (
            [f"--ca-certificate={ca}"] if https else [])
    if tool == "curl":
        # One process for all files (-Z); one connection per file is all curl does.
        return ["curl", "-sSf", "-Z", "--parallel-max", str(JOBS), "--remote-name-all",
                "--output-dir", out, "-K", curl_cfg] + (["--cacert", ca] if https else [])
    if tool == "wget2":
        # One connection per file: wget2 1.99.1's --chunk-size, which would split a file, never
        # finishes here (each part "0 bytes of N expected", against nginx too).
        return ["wget2", "-q", "--no-robots", f"--max-threads={JOBS}", "-P", out, "-i", lst] + (
            [f"--ca-certificate={ca}"] if https else [])
    if tool == "axel":
        return ["axel", "-q", "-n", str(x), "-o", out, url] + (["-k"] if https else [])
    raise ValueError(tool)


def saved_name(tool, url):
    """The name a tool gives the file at `url`. wget2 keeps the query (`big.bin?size=…`): its
    --cut-file-get-vars would drop it but then saves into `f/` (wget2 1.99), so its own
    name is taken as it is."""
    last = url.rsplit("/", 1)[1]
    return last if tool == "wget2" else last.split("?")[0]


def applies(tool, sc):
    """Why `tool` cannot run `sc`, or None."""
    if tool == "axel" and len(sc.files) > 1:
        return "downloads one file per run"
    return None


# ---------------------------------------------------------------- measuring one run

def gnu_time():
    """/usr/bin/time when it is GNU time, which reports a child's peak RSS in KiB with -f %M."""
    try:
        out = subprocess.run(["/usr/bin/time", "--version"], capture_output=True, text=True)
        return "/usr/bin/time" if "GNU" in out.stdout + out.stderr else None
    except OSError:
        return None


TIME = gnu_time()


def run_once(cmd, timeout, work):
    """Runs cmd with no terminal; returns wall s, CPU s, peak RSS MB, exit code and the last
    line of its stderr, or None on timeout.

    CPU comes from wait4 (the tool's threads and children included, nothing of this script's).
    Peak RSS cannot: a process forked from this one keeps this Python's peak across exec, so
    the tool is started by GNU time, small itself, which reports its child's own peak; without
    GNU time, the tool's VmHWM is read from /proc every 10 ms while it runs."""
    err_file, rss_file = os.path.join(work, "stderr.txt"), os.path.join(work, "rss.txt")
    if TIME:
        cmd = [TIME, "-o", rss_file, "-f", "%M", "--"] + cmd
    with open(err_file, "wb") as err:
        start = time.monotonic()
        # A session of its own, so a timeout kills the tool and not only GNU time.
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=err, start_new_session=True)
    pidfd, hwm_kib, exited = os.pidfd_open(proc.pid), 0, False
    try:
        while not exited and time.monotonic() - start < timeout:
            wait = timeout - (time.monotonic() - start)
            exited = bool(select.select([pidfd], [], [], wait if TIME else min(wait, 0.01))[0])
            if not TIME:
                hwm_kib = max(hwm_kib, vm_hwm_kib(proc.pid))
    finally:
        os.close(pidfd)
    if not exited:
        os.killpg(proc.pid, signal.SIGKILL)
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.monotonic() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if not exited:
        return None
    if TIME:
        with open(rss_file) as f:  # GNU time may write "Command exited with…" first
            hwm_kib = int(f.read().split()[-1])
    with open(err_file, errors="replace") as f:
        lines = f.read().strip().splitlines()
    return dict(wall=wall, cpu=ru.ru_utime + ru.ru_stime, rss=hwm_kib * 1024 / 1e6,
                code=proc.returncode, err=lines[-1] if lines else "")


def vm_hwm_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def check(out, sc, names, sums):
    """None when `out` holds exactly the scenario's files, under the `names` the tool gives
    them, each with the expected SHA-256; else what is wrong."""
    for (name, size), saved in zip(sc.files, names):
        path = os.path.join(out, saved)
        if not os.path.isfile(path):
            return f"missing {saved}"
        h = hashlib.sha256()
        with open(path, "rb") as f:
            while chunk := f.read(MIB):
                h.update(chunk)
        if h.hexdigest() != sums[(name, size)]:
            return f"wrong bytes in {saved} ({os.path.getsize(path)} of {size} bytes)"
    # Leftovers (.part, control files) after a run that said it succeeded are a failure too.
    extra = sorted(set(os.listdir(out)) - set(names))
    return f"unexpected file {extra[0]}" if extra else None


# ---------------------------------------------------------------- servers

def expected_sums(files):
    """SHA-256 of each (name, size), from the server's generator run without HTTP."""
    sums, by_size = {}, {}
    for name, size in set(files):
        by_size.setdefault(size, []).append(name)
    for size, names in by_size.items():
        for i in range(0, len(names), 1000):
            batch = sorted(names[i:i + 1000])
            proc = subprocess.Popen([SERVER_BIN, "content", str(size)] + batch,
                                    stdout=subprocess.PIPE)
            for name in batch:
                h, left = hashlib.sha256(), size
                while left:
                    chunk = proc.stdout.read(min(left, MIB))
                    if not chunk:
                        sys.exit(f"bench_server content ended early at {name}")
                    h.update(chunk)
                    left -= len(chunk)
                sums[(name, size)] = h.hexdigest()
            if proc.wait() != 0:
                sys.exit("bench_server content failed")
    return sums


def start_server(work):
    """The tests' server with HTTP and HTTPS; returns (process, http addr, https addr, CA)."""
    ca = os.path.join(work, "ca.pem")
    proc = subprocess.Popen([SERVER_BIN, "--tls", ca], stdout=subprocess.PIPE, text=True)
    http = proc.stdout.readline().split()[-1]
    https = proc.stdout.readline().split()[-1]
    return proc, http, https, ca


def start_latency_proxy(target):
    """This script as a second process: a proxy to `target` adding ONE_WAY_MS each way."""
    proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--latency-proxy", target],
                            stdout=subprocess.PIPE, text=True)
    return proc, proc.stdout.readline().strip()


def latency_proxy(target):
    """Forwards each connection to target; every chunk, either way, is sent ONE_WAY_MS after it
    arrived, and a new connection waits one round trip first, as a TCP handshake would."""
    delay = ONE_WAY_MS / 1000
    host, port = target.rsplit(":", 1)
    # Stopped with SIGTERM at the end: leave at once, without asyncio's notes on open tasks.
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))

    async def pump(reader, writer):
        queue = asyncio.Queue()

        async def send():
            while True:
                due, data = await queue.get()
                await asyncio.sleep(max(0, due - time.monotonic()))
                if not data:
                    if writer.can_write_eof():
                        writer.write_eof()
                    return
                writer.write(data)
                await writer.drain()

        sender = asyncio.create_task(send())
        try:
            while True:
                data = await reader.read(65536)
                queue.put_nowait((time.monotonic() + delay, data))
                if not data:
                    break
            await sender
        except OSError:
            sender.cancel()

    async def handle(client_r, client_w):
        await asyncio.sleep(2 * delay)
        try:
            up_r, up_w = await asyncio.open_connection(host, int(port))
        except OSError:
            client_w.close()
            return
        await asyncio.gather(pump(client_r, up_w), pump(up_r, client_w), return_exceptions=True)
        for w in (client_w, up_w):
            w.close()

    async def main():
        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)
        print(f"127.0.0.1:{server.sockets[0].getsockname()[1]}", flush=True)
        await server.serve_forever()

    asyncio.run(main())


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_nginx(work, files):
    """nginx serving the same files (written from the generator) at the same /f/ paths."""
    www = os.path.join(work, "www")
    os.makedirs(os.path.join(www, "f"))
    for name, size in sorted(set(files)):
        with open(os.path.join(www, "f", name), "wb") as f:
            subprocess.run([SERVER_BIN, "content", str(size), name], stdout=f, check=True)
    # nginx's workers may run as another user: let them read the files.
    for d in (work, www, os.path.join(www, "f")):
        os.chmod(d, 0o755)
    port = free_port()
    conf = os.path.join(work, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""worker_processes 2;
daemon off;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log;
events {{ worker_connections 4096; }}
http {{
  access_log off; sendfile on; tcp_nopush on; keepalive_requests 100000;
  types {{ application/octet-stream bin; }}
  client_body_temp_path {work}/nginx-body; proxy_temp_path {work}/nginx-proxy;
  fastcgi_temp_path {work}/nginx-fcgi; uwsgi_temp_path {work}/nginx-uwsgi;
  scgi_temp_path {work}/nginx-scgi;
  server {{ listen 127.0.0.1:{port}; root {www}; }}
}}
""")
    proc = subprocess.Popen(["nginx", "-p", work, "-e", f"{work}/nginx-error.log", "-c", conf],
                            stderr=subprocess.DEVNULL)
    addr = f"127.0.0.1:{port}"
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, addr
        except OSError:
            time.sleep(0.05)
    sys.exit(f"nginx did not start; see {work}/nginx-error.log")


def warm(urls, ca):
    """One HEAD per large file, so no timed run pays for the server generating it."""
    import ssl
    ctx = ssl.create_default_context(cafile=ca)
    for url in urls:
        req = urllib.request.Request(url, method="HEAD")
        urllib.request.urlopen(req, context=ctx if url.startswith("https") else None).close()


# ---------------------------------------------------------------- the table

COLUMNS = ["scenario", "tool", "wall_s", "cpu_s", "rss_MB", "MB/s", "check"]


def row(cells, markdown):
    if markdown:
        return "| " + " | ".join(cells) + " |"
    return "{:<16} {:<7} {:>8} {:>7} {:>7} {:>8}  {}".format(*cells)


def version(tool, flag="--version"):
    """The tool's name and version, e.g. `curl 7.88.1` (the first line, before any details)."""
    try:
        out = subprocess.run([tool, flag], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return f"{tool} ?"
    first = (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr).strip() else tool
    return first.split(" (")[0].split(" - ")[0].replace("nginx version: ", "")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only", default="", help="scenarios, comma-separated (default: all)")
    ap.add_argument("--tools", default="", help="tools, comma-separated (default: all found)")
    ap.add_argument("--timeout", type=float, default=300, help="seconds per run")
    ap.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    ap.add_argument("--no-build", action="store_true", help="use the binaries already built")
    ap.add_argument("--dlm", default=os.path.join(TARGET, "release", "dlm"))
    ap.add_argument("--latency-proxy", metavar="TARGET", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.latency_proxy:
        return latency_proxy(a.latency_proxy)

    known = {s.name: s for s in SCENARIOS}
    if unknown := [n for n in a.only.split(",") if n and n not in known]:
        sys.exit(f"unknown scenario {unknown[0]}; known: {', '.join(known)}")
    chosen = [known[n] for n in a.only.split(",") if n] if a.only else SCENARIOS
    if unknown := [t for t in a.tools.split(",") if t and t not in ["dlm"] + PEERS]:
        sys.exit(f"unknown tool {unknown[0]}; known: dlm, {', '.join(PEERS)}")
    notes = []
    tools = ["dlm"]
    for tool in PEERS:
        if a.tools and tool not in a.tools.split(","):
            continue
        if shutil.which(tool):
            tools.append(tool)
        else:
            notes.append(f"{tool}: skipped: not installed")
    if a.tools and "dlm" not in a.tools.split(","):
        tools.remove("dlm")
    if not shutil.which("nginx") and any(s.server == "nginx" for s in chosen):
        notes.append("nginx-*: skipped: nginx not installed")
        chosen = [s for s in chosen if s.server != "nginx"]

    if not a.no_build:
        subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "dlm", "--example",
                        "bench_server"], cwd=ROOT, check=True)
    for path in (a.dlm, SERVER_BIN):
        if not os.access(path, os.X_OK):
            sys.exit(f"{path} is missing: build it or leave out --no-build")

    work = tempfile.mkdtemp(prefix="dlm-compare-")
    children = []
    try:
        server, http, https, ca = start_server(work)
        children.append(server)
        addrs = {"http": http, "https": https}
        if any(s.server == "latency" for s in chosen):
            proxy, addrs["latency"] = start_latency_proxy(http)
            children.append(proxy)
        if any(s.server == "nginx" for s in chosen):
            nginx, addrs["nginx"] = start_nginx(work, [f for s in chosen if s.server == "nginx"
                                                       for f in s.files])
            children.append(nginx)
        sums = expected_sums([f for s in chosen for f in s.files])

        say = (lambda text: print(text + "\n")) if a.markdown else (lambda text: print("# " + text))
        say(f"{time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}, {os.cpu_count()} cores, "
            f"load average {load()}, {a.runs} runs each. dlm {git_describe()}"
            + "".join(f"; {version(t)}" for t in tools if t != "dlm")
            + (f"; {version('nginx', '-v')}" if "nginx" in addrs else "") + ".")
        for sc in chosen:
            say(f"{sc.name}: {sc.what}.")
        say("Median wall and CPU seconds (user+sys), highest peak RSS, MB/s = 10^6 bytes/s at "
            "the median wall; every file's SHA-256 checked.")
        print(row(COLUMNS, a.markdown))
        if a.markdown:
            print("|" + "---|" * 2 + "---:|" * 4 + "---|")
        for sc in chosen:
            run_scenario(sc, tools, addrs, ca, sums, a, work, notes)
        if a.markdown:
            print()
        say(f"Done, load average {load()}.")
        for note in notes:
            say(note)
    finally:
        for child in children:
            child.send_signal(signal.SIGTERM)
            child.wait()
        shutil.rmtree(work, ignore_errors=True)


def run_scenario(sc, tools, addrs, ca, sums, a, work, notes):
    scheme = "https" if sc.server == "https" else "http"
    urls = [f"{scheme}://{addrs[sc.server]}/f/{name}?size={size}{sc.query}" for name, size in sc.files]
    lst = os.path.join(work, "urls.txt")
    with open(lst, "w") as f:
        f.write("".join(u + "\n" for u in urls))
    curl_cfg = os.path.join(work, "urls.curl")
    with open(curl_cfg, "w") as f:
        f.write("".join(f'url = "{u}"\n' for u in urls))
    if sc.server != "nginx":
        warm([u for u, (_, size) in zip(urls, sc.files) if size >= MIB], ca)
    here = [t for t in tools if not applies(t, sc)]
    notes.extend(f"{sc.name}: {t} skipped: {applies(t, sc)}" for t in tools if applies(t, sc))
    results, failed = {t: [] for t in here}, {}
    # Tools take turns within each round, so a change in the machine's load hits all alike.
    for _ in range(a.runs):
        for tool in here:
            if tool in failed:
                continue
            out = tempfile.mkdtemp(prefix="out-", dir=work)
            cmd = command(tool, sc, out, lst, curl_cfg, urls[0], ca, a.dlm)
            r = run_once(cmd, a.timeout, work)
            if r is None:
                failed[tool] = f"timeout after {a.timeout:.0f} s"
            elif r["code"] != 0:
                failed[tool] = f"exit {r['code']}: {r['err'].replace(out, '…')[:100]}"
            elif problem := check(out, sc, [saved_name(tool, u) for u in urls], sums):
                failed[tool] = problem
            else:
                results[tool].append(r)
            shutil.rmtree(out, ignore_errors=True)
    for tool in here:
        if tool in failed:
            print(row([sc.name, tool, "-", "-", "-", "-", "FAIL " + failed[tool]], a.markdown), flush=True)
            continue
        rs = results[tool]
        wall = statistics.median(r["wall"] for r in rs)
        cpu = statistics.median(r["cpu"] for r in rs)
        rss = max(r["rss"] for r in rs)
        print(row([sc.name, tool, f"{wall:.3f}", f"{cpu:.3f}", f"{rss:.1f}",
                   f"{sc.payload / wall / 1e6:.1f}", "ok"], a.markdown), flush=True)


def load():
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def git_describe():
    try:
        out = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"],
                             capture_output=True, text=True).stdout.strip()
        return out or "(not a git checkout)"
    except OSError:
        return "(git not found)"


if __name__ == "__main__":
    main()
