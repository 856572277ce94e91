"""TLS proxy overhead: the ingest endpoint through nginx (https) versus SENTRY_BIND directly.

    make bench                                    # with the other benchmarks
    .venv/bin/python -m tests.bench.bench_proxy   # alone, prints the rows as JSON

Both paths are measured the same way, from inside the VM on loopback, by wrk (Debian
package, installed in the VM): POSTs of one small event envelope to
/api/<project>/envelope/ with the project's public key, at the same concurrency, against
http://<SENTRY_BIND> and https://<tls_proxy_fqdn> (the VM resolves the FQDN to 127.0.0.1).
Rounds alternate between the two paths and the median round counts. Rows: requests/s
and p50/p99 latency of each path, and the throughput ratio proxy/direct.
Two upstreams are measured in the same run: the Sentry API double (what the local VM serves
at SENTRY_BIND; slow, so the ratio shows little), then a fast static responder put where the
stack would listen (a second nginx instance answering 200 at SENTRY_BIND while the double is
stopped), which shows the proxy's own cost.
Targets, static upstream: the proxy serves >= 5,000 req/s and costs at most 15 % of the
throughput (ratio >= 0.85).

The VM: the one named by LOCAL_VM_NAME / LOCAL_VM_PORT_OFFSET (what `make e2e` or
`make deploy` left running). When it is not reachable, or serves no proxy, the bench builds
its own (LOCAL_VM_NAME=dermai-vm-bench-proxy, offset BENCH_PROXY_VM_PORT_OFFSET or 950):
deploy/local_vm.yml, tests/e2e/prepare-local.sh, deploy/site.yml --skip-tags sentry_stack,
and removes it afterwards.
"""

from __future__ import annotations

import base64
import json
import os
import re
import statistics
import sys

from tests.bench.common import INVENTORY, ansible_env, capture

HOST = "dermai-vm"
# Targets, static upstream: throughput ratio proxy/direct and the proxy's requests/s.
TARGET_RATIO, TARGET_STATIC_RPS = 0.85, 5000.0
# wrk: rounds per path (the median counts), seconds per round, threads, connections.
ROUNDS, DURATION_S, THREADS, CONNECTIONS = 3, 8, 2, 4

# wrk script: POST one event envelope per request, authenticated with the public key.
_LUA = """\
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-sentry-envelope"
wrk.headers["X-Sentry-Auth"] = "Sentry sentry_version=7, sentry_client=bench/1.0, sentry_key=%(key)s"
wrk.body = %(body)s
"""


def _vm_shell(env: dict[str, str], command: str, timeout: int = 300) -> tuple[int, str, str]:
    """Run a shell command as root in the VM; (rc, stdout, stderr)."""
    run_env = dict(env, ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json", ANSIBLE_LOAD_CALLBACK_PLUGINS="1")
    done = capture(
        ["ansible", "-i", INVENTORY, HOST, "-b", "-m", "ansible.builtin.shell", "-a", command], run_env, timeout
    )
    start = done.stdout.find("{")
    if start < 0:
        return 255, "", done.stdout + done.stderr
    # Other callbacks (profile_tasks) may print after the JSON report.
    report, _ = json.JSONDecoder().raw_decode(done.stdout, start)
    result = report["plays"][0]["tasks"][0]["hosts"].get(HOST, {})
    return int(result.get("rc", 255)), result.get("stdout", ""), result.get("stderr", "") or result.get("msg", "")


def _playbook(env: dict[str, str], *args: str) -> None:
    done = capture(["ansible-playbook", *args], env)
    if done.returncode != 0:
        raise RuntimeError(f"ansible-playbook {' '.join(args)} failed:\n{done.stdout[-3000:]}{done.stderr[-2000:]}")


def _facts(env: dict[str, str]) -> dict | None:
    rc, out, _ = _vm_shell(env, "cat /etc/ansible/facts.d/tls_proxy.fact", timeout=60)
    return json.loads(out) if rc == 0 else None


def _build_vm(env: dict[str, str]) -> None:
    _playbook(env, "deploy/local_vm.yml")
    done = capture(["tests/e2e/prepare-local.sh"], env)
    if done.returncode != 0:
        raise RuntimeError(f"tests/e2e/prepare-local.sh failed:\n{done.stdout[-3000:]}{done.stderr[-2000:]}")
    _playbook(env, "-i", INVENTORY, "deploy/site.yml", "--skip-tags", "sentry_stack")


def _seconds(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(value) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[unit]


def parse_wrk(output: str) -> dict[str, float]:
    """Requests/s, p50 and p99 latency (ms), and error responses of one `wrk --latency` run."""
    rps = float(re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE).group(1))
    p50 = _seconds(re.search(r"^\s+50%\s+(\S+)", output, re.MULTILINE).group(1))
    p99 = _seconds(re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    errors = int(non2xx.group(1)) if non2xx else 0
    errors += sum(int(n) for n in socket_errors.groups()) if socket_errors else 0
    return {"rps": rps, "p50_ms": p50 * 1000, "p99_ms": p99 * 1000, "errors": errors}


def static_responder_conf(upstream: str, pid_file: str) -> str:
    """nginx configuration of a static responder answering 200 at `upstream` (host:port)."""
    return (
        f"pid {pid_file};\n"
        "worker_processes 1;\n"
        "error_log /tmp/bench-static-error.log;\n"
        "events { worker_connections 1024; }\n"
        "http {\n"
        "  access_log off;\n"
        f"  server {{ listen {upstream}; keepalive_requests 100000;\n"
        "    location / { default_type application/json;\n"
        '      return 200 \'{"id":"00000000000000000000000000000000"}\'; } }\n'
        "}\n"
    )


def _envelope() -> str:
    item = json.dumps({"message": "bench_proxy: ingest through the TLS proxy", "level": "info", "platform": "python"})
    header = json.dumps({"type": "event", "length": len(item.encode())})
    return "{}\n" + header + "\n" + item + "\n"


def _rounds(env: dict[str, str], urls: dict[str, str]) -> dict[str, list[dict[str, float]]]:
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in urls}
    for _ in range(ROUNDS):
        for name, url in urls.items():
            rc, out, err = _vm_shell(
                env,
                f"wrk -t{THREADS} -c{CONNECTIONS} -d{DURATION_S}s --timeout 10s --latency"
                f" -s /tmp/bench_proxy.lua {url}",
                timeout=DURATION_S * 10 + 60,
            )
            if rc != 0:
                raise RuntimeError(f"wrk against {url} failed: {err or out}")
            runs[name].append(parse_wrk(out))
    return runs


def _static_rounds(env: dict[str, str], facts: dict, urls: dict[str, str]) -> dict[str, list[dict[str, float]]]:
    """The same rounds with a static responder at SENTRY_BIND; the double is started again afterwards."""
    conf = base64.b64encode(static_responder_conf(facts["upstream"], "/tmp/bench-static.pid").encode()).decode()
    start = (
        f"echo {conf} | base64 -d > /tmp/bench-static.conf && systemctl stop sentry-double"
        " && nginx -c /tmp/bench-static.conf && sleep 1"
    )
    rc, out, err = _vm_shell(env, start)
    try:
        if rc != 0:
            raise RuntimeError(f"cannot start the static responder: {err or out}")
        return _rounds(env, urls)
    finally:
        _vm_shell(
            env,
            "kill $(cat /tmp/bench-static.pid) 2>/dev/null; sleep 1; systemctl start sentry-double"
            " && for i in $(seq 30);"
            f" do curl -fsS -o /dev/null http://{facts['upstream']}/api/0/ && break; sleep 1; done",
        )


def _rows(label: str, median: dict[str, dict[str, float]]) -> list[dict]:
    rows = []
    for name in ("direct", "proxy"):
        path = "via TLS proxy (https)" if name == "proxy" else "direct at SENTRY_BIND (http)"
        for key, metric, unit in (
            ("rps", "throughput", "req/s"),
            ("p50_ms", "p50 latency", "ms"),
            ("p99_ms", "p99 latency", "ms"),
        ):
            rows.append(
                {
                    "metric": f"{label}: {path} {metric}",
                    "value": median[name][key],
                    "unit": unit,
                    "target": None,
                    "ok": None,
                }
            )
    return rows


def _median(runs: dict[str, list[dict[str, float]]]) -> dict[str, dict[str, float]]:
    return {name: sorted(r, key=lambda m: m["rps"])[len(r) // 2] for name, r in runs.items()}


def _measure(env: dict[str, str], facts: dict) -> list[dict]:
    rc, _, err = _vm_shell(env, "command -v wrk || (apt-get update -qq && apt-get install -y -qq wrk)", timeout=600)
    if rc != 0:
        raise RuntimeError(f"cannot install wrk in the VM: {err}")
    token_file = "/etc/sentry-bundle/api-token"
    rc, out, err = _vm_shell(
        env,
        f'curl -sS -H "Authorization: Bearer $(cat {token_file})" http://{facts["upstream"]}/api/0/projects/sentry/internal/keys/',
    )
    if rc != 0:
        raise RuntimeError(f"cannot read the project's keys from SENTRY_BIND: {err}")
    key = next(k for k in json.loads(out) if k["isActive"])
    project_id = key["projectId"]
    lua = _LUA % {"key": key["public"], "body": json.dumps(_envelope())}
    encoded = base64.b64encode(lua.encode()).decode()
    _vm_shell(env, f"echo {encoded} | base64 -d > /tmp/bench_proxy.lua")
    path = f"/api/{project_id}/envelope/"
    port = "" if int(facts["https_port"]) == 443 else f":{facts['https_port']}"
    urls = {"direct": f"http://{facts['upstream']}{path}", "proxy": f"https://{facts['fqdn']}{port}{path}"}
    runs = _rounds(env, urls)
    static_runs = _static_rounds(env, facts, urls)
    median, static = _median(runs), _median(static_runs)
    ratio = median["proxy"]["rps"] / median["direct"]["rps"]
    static_ratio = static["proxy"]["rps"] / static["direct"]["rps"]
    errors = sum(m["errors"] for r in runs.values() for m in r)
    static_errors = sum(m["errors"] for r in static_runs.values() for m in r)
    rows = _rows("double upstream", median) + _rows("static upstream", static)
    rows += [
        {
            "metric": "double upstream: throughput ratio proxy/direct",
            "value": round(ratio, 3),
            "unit": "ratio",
            "target": None,
            "ok": None,
        },
        {
            "metric": "static upstream: TLS proxy throughput",
            "value": static["proxy"]["rps"],
            "unit": "req/s",
            "target": f">= {TARGET_STATIC_RPS:.0f}",
            "ok": static["proxy"]["rps"] >= TARGET_STATIC_RPS,
        },
        {
            "metric": "static upstream: throughput ratio proxy/direct",
            "value": round(static_ratio, 3),
            "unit": "ratio",
            "target": f">= {TARGET_RATIO} (proxy costs <= 15 %)",
            "ok": static_ratio >= TARGET_RATIO,
        },
        {
            # The whole machine's time per request, the proxy's path less the direct one: what the
            # TLS termination and the second hop cost, whatever the upstream's own speed.
            "metric": "static upstream: machine time the proxy adds per request (1/proxy - 1/direct)",
            "value": round(1e6 / static["proxy"]["rps"] - 1e6 / static["direct"]["rps"], 1),
            "unit": "us",
            "target": None,
            "ok": None,
        },
        {
            "metric": "error responses during the runs (double upstream)",
            "value": float(errors),
            "unit": "responses",
            "target": "0",
            "ok": errors == 0,
        },
        {
            "metric": "error responses during the runs (static upstream)",
            "value": float(static_errors),
            "unit": "responses",
            "target": "0",
            "ok": static_errors == 0,
        },
        {
            "metric": f"runs per path and upstream (wrk -t{THREADS} -c{CONNECTIONS} -d{DURATION_S}s, median)",
            "value": float(ROUNDS),
            "unit": "runs",
            "target": None,
            "ok": None,
        },
    ]
    rounds = {n: [round(m["rps"]) for m in r] for n, r in runs.items()}
    spread = {n: round(statistics.pstdev(v)) for n, v in rounds.items()}
    print(f"   bench_proxy: per-round req/s {json.dumps(rounds)}, stdev {json.dumps(spread)}", file=sys.stderr)
    return rows


def run() -> list[dict]:
    env = ansible_env()
    facts = _facts(env)
    own_vm = None
    if not facts:
        own_vm = ansible_env("dermai-vm-bench-proxy", os.environ.get("BENCH_PROXY_VM_PORT_OFFSET", "950"))
        _build_vm(own_vm)
        env = own_vm
        facts = _facts(env)
        if not facts:
            raise RuntimeError("the bench VM serves no TLS proxy after the converge")
    try:
        return _measure(env, facts)
    finally:
        if own_vm:
            _playbook(own_vm, "deploy/local_vm.yml", "-e", "local_vm_state=absent")


if __name__ == "__main__":
    json.dump(run(), sys.stdout, indent=2)
    print()
