"""Load test: simulated officials asking questions against the running service, loopback only.

Starts ``gyosei api`` on a free loopback port over the app's index (data_samples, built by
``make run`` / ``gyosei ingest data_samples``; the UI must not be running: Qdrant Edge allows one
open per index folder) with a throw-away users file and audit log, then runs ``--users``
simulated officials for ``--seconds`` (bounded by ``--max-requests`` too). Each signs in once, then
asks a question (search + extractive answer), reads it for a random think time, and asks again.
Reports throughput, latency p50/p95/max as the client saw it, the server's own timings, errors.

Usage: .venv/bin/python bench/load_test.py [--users 8] [--seconds 180] [--think 2,6] [--url URL]
(``--url`` targets a server you started yourself, with ``--user``/``--password``.)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Questions an official might type about the sample documents (and a few it cannot answer).
QUESTIONS = [
    "行政手続法の目的は何ですか",
    "申請に対する審査基準はどのように定めることになっていますか",
    "個人情報の第三者提供にはどのような制限がありますか",
    "マイナンバーカードの普及に向けた取組",
    "住宅借入金等特別控除を受けるための要件",
    "医療費控除の対象となる費用",
    "データ品質ガイドブックで示されている品質の評価方法",
    "API の設計で推奨されていることは何ですか",
    "自治体システムの標準化の進捗",
    "防衛省の不祥事に対する再発防止策",
    "令和6年度の情報通信政策の重点",
    "事業者が保有個人データを開示しなければならない場合",
    "公文書の管理に関する法律の目的",
    "電子帳簿保存法の改正内容",
    "火星探査の最新の成果について",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(url: str, path: str, body: dict, token: str | None = None, timeout: float = 60.0) -> dict:
    req = urllib.request.Request(url + path, data=json.dumps(body).encode("utf-8"), method="POST",
                                 headers={"Content-Type": "application/json",
                                          **({"Authorization": f"Bearer {token}"} if token else {})})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.loads(resp.read().decode("utf-8"))


def start_server(work: Path) -> tuple[subprocess.Popen, str, str, str]:
    """``gyosei api`` on a free port with a new users file and audit log; (process, url, user, password)."""
    from app.auth import UserStore

    users, password = work / "users.json", "load-test-" + os.urandom(6).hex()
    UserStore(users).add("loadtest", password, clearance=1, groups=["all"])
    port = free_port()
    env = {**os.environ, "GYOSEI_AUTH__USERS_FILE": str(users),
           "GYOSEI_AUDIT__URL": f"sqlite:///{work / 'audit.sqlite3'}"}
    proc = subprocess.Popen([str(ROOT / ".venv/bin/gyosei"), "api", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"API server exited:\n{proc.stdout.read() if proc.stdout else ''}")
        try:
            urllib.request.urlopen(url + "/api/health", timeout=2).read()
            return proc, url, "loadtest", password
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("API server did not start within 300 s")


def official(url: str, user: str, password: str, stop: float, think: tuple[float, float], seed: int,
             budget: threading.Semaphore, results: list[dict], lock: threading.Lock) -> None:
    rng = random.Random(seed)
    token = post(url, "/api/login", {"user": user, "password": password})["token"]
    time.sleep(rng.uniform(0, think[1]))  # officials don't all start at the same instant
    while time.monotonic() < stop and budget.acquire(blocking=False):
        question = rng.choice(QUESTIONS)
        started = time.perf_counter()
        row: dict = {"question": question}
        try:
            reply = post(url, "/api/ask", {"question": question}, token)
            row.update(ok=True, refused=reply["refused"], server=reply["timings"].get("total", 0.0))
        except (urllib.error.URLError, OSError, ValueError, KeyError) as exc:
            row.update(ok=False, error=repr(exc)[:200])
        row["latency"] = time.perf_counter() - started
        with lock:
            results.append(row)
        time.sleep(rng.uniform(*think))


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))] if xs else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=180)
    parser.add_argument("--max-requests", type=int, default=3000)
    parser.add_argument("--think", default="2,6", help="think time range in seconds, e.g. 2,6")
    parser.add_argument("--url", help="an already running API (else one is started)")
    parser.add_argument("--user", default="loadtest")
    parser.add_argument("--password", default="")
    args = parser.parse_args()
    think = tuple(float(x) for x in args.think.split(","))
    proc = None
    with tempfile.TemporaryDirectory(prefix="gyosei-load-") as tmp:
        if args.url:
            url, user, password = args.url.rstrip("/"), args.user, args.password
        else:
            proc, url, user, password = start_server(Path(tmp))
        try:
            for q in QUESTIONS[:3]:  # warm-up outside the measurement
                post(url, "/api/ask", {"question": q}, post(url, "/api/login", {"user": user, "password": password})["token"])
            results: list[dict] = []
            lock, budget = threading.Lock(), threading.Semaphore(args.max_requests)
            load_before = os.getloadavg()[0]
            started = time.monotonic()
            stop = started + args.seconds
            threads = [threading.Thread(target=official, args=(url, user, password, stop, think, i, budget, results, lock))
                       for i in range(args.users)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.monotonic() - started
        finally:
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=30)
    ok = [r for r in results if r["ok"]]
    lat = [r["latency"] * 1000 for r in ok]
    server = [r["server"] * 1000 for r in ok]
    report = {
        "users": args.users, "seconds": round(elapsed, 1), "think_s": list(think),
        "requests": len(results), "errors": len(results) - len(ok),
        "throughput_rps": round(len(results) / elapsed, 2),
        "latency_ms": {"p50": round(pct(lat, 0.5), 1), "p95": round(pct(lat, 0.95), 1), "max": round(max(lat, default=0), 1),
                       "mean": round(statistics.fmean(lat), 1) if lat else None},
        "server_ms": {"p50": round(pct(server, 0.5), 1), "p95": round(pct(server, 0.95), 1)},
        "refused": sum(1 for r in ok if r["refused"]),
        "load_average_at_start": round(load_before, 2),
        "error_samples": [r["error"] for r in results if not r["ok"]][:5],
    }
    print(json.dumps(report, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
