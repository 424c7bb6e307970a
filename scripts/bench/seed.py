#!/usr/bin/env python3
"""Data for the load benchmark (scripts/bench/load.sh): seeds live sessions,
writes the POST body templates and checks afterwards that every acknowledged
PATCH is in the database.

Standard library only, so the benchmark runs on a fresh machine without pip.

The charging model is deliberately simple but physically consistent, so the
analysis sees normal sessions rather than noise: constant power up to 80 %
SoC, then a linear taper; the energy register (lifetime-style, starting in
the tens of thousands of kWh) integrates that power. patch.lua continues
exactly this model (same formulas) minute by minute, so keep the two in sync.
"""

import argparse
from datetime import datetime, timezone
import concurrent.futures
import http.client
import json
import random
import sys
import threading
import time

ENERGY = "Energy.Active.Import.Register"
POWER = "Power.Active.Import"
SOC = "SoC"
# Share of the metered energy that ends up in the battery (AC charging losses).
EFFICIENCY = 0.92


def true_power_kw(soc, pmax):
    """Power the car draws at `soc`: constant current, then a taper to 5 %."""
    if soc >= 100.0:
        return 0.0
    if soc < 80.0:
        return pmax
    return pmax * max(0.05, (100.0 - soc) / 20.0)


def advance(state):
    """One minute of charging; mirrors advance() in patch.lua."""
    p = true_power_kw(state["soc"], state["pmax"])
    state["energy"] += p / 60.0
    state["soc"] = min(100.0, state["soc"] + p / 60.0 / state["cap"] * 100.0 * EFFICIENCY)


def new_charger(rng):
    """An AC charge point and car that stay in constant-current charging for
    the 5-6 h of history, as most long AC sessions do."""
    pmax, cap = rng.choice([(3.7, 50.0), (7.4, 64.0), (7.4, 77.0), (11.0, 90.0), (11.0, 100.0)])
    return {
        "pmax": round(pmax * rng.uniform(0.93, 1.0), 3),
        "cap": cap,
        "soc": rng.uniform(5.0, 20.0),
        "energy": rng.uniform(10_000.0, 50_000.0),
    }


def iso(epoch):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def readings(state, start, minutes, rng):
    """`minutes` minutes of 1-minute sampling from `start`; advances `state`."""
    values = []
    for k in range(minutes):
        ts = iso(start + 60 * k)
        p = true_power_kw(state["soc"], state["pmax"])
        # Power is a measurement (a little noise); the register and SoC are not.
        values.append({"timestamp": ts, "measurand": ENERGY, "unit": "kWh", "value": round(state["energy"], 3)})
        values.append({"timestamp": ts, "measurand": POWER, "unit": "kW", "value": round(p * rng.uniform(0.995, 1.005), 3)})
        values.append({"timestamp": ts, "measurand": SOC, "unit": "Percent", "value": int(state["soc"])})
        advance(state)
    return values


class Client:
    """One keep-alive connection per worker thread."""

    local = threading.local()

    def __init__(self, host, port, token):
        self.host, self.port, self.token = host, port, token

    def call(self, method, path, body=None):
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        headers = {"Authorization": "Bearer " + self.token}
        data = None
        if body is not None:
            data = json.dumps(body, separators=(",", ":")).encode()
            headers["Content-Type"] = "application/json"
        try:
            conn.request(method, path, body=data, headers=headers)
            response = conn.getresponse()
            payload = response.read()
        except (OSError, http.client.HTTPException):
            self.local.conn = None
            raise
        return response.status, payload


def seed(args):
    rng = random.Random(args.seed)
    client = Client("127.0.0.1", args.port, args.token)
    # The history ends at --end-epoch; patch.lua carries on from the next minute.
    start = args.end_epoch - 60 * (args.history_minutes - 1)
    jobs = []
    for i in range(args.sessions):
        state = new_charger(rng)
        state["id"] = "bench-live-%05d" % i
        body = {
            "session_id": state["id"],
            # Four connectors per station, like a typical AC site.
            "charging_station_id": "bench-st-%04d" % (i // 4),
            "connector_id": str(i % 4 + 1),
            "meter_values": readings(state, start, args.history_minutes, rng),
        }
        state["start"] = start
        state["next"] = start + 60 * args.history_minutes
        jobs.append((state, body))

    anomalous = 0
    failures = []

    def post(job):
        status, payload = client.call("POST", "/v1/sessions", job[1])
        return job[0]["id"], status, payload

    began = time.time()
    with concurrent.futures.ThreadPoolExecutor(args.workers) as pool:
        for sid, status, payload in pool.map(post, jobs):
            if status != 200:
                failures.append("%s: HTTP %d %s" % (sid, status, payload[:300].decode(errors="replace")))
            elif json.loads(payload).get("is_anomaly"):
                anomalous += 1
    elapsed = time.time() - began

    with open(args.state_out, "w") as out:
        out.write("# id\tstart\tnext\tenergy\tsoc\tpmax\tcap\n")
        for state, _ in jobs:
            out.write("%s\t%d\t%d\t%.6f\t%.6f\t%.3f\t%.1f\n" % (
                state["id"], state["start"], state["next"], state["energy"], state["soc"], state["pmax"], state["cap"]))
    print("seeded %d sessions x %d min x 3 measurands in %.1f s; %d flagged anomalous by the server"
          % (args.sessions, args.history_minutes, elapsed, anomalous))
    for failure in failures[:5]:
        print("  seed failure: " + failure)
    if failures:
        print("%d seed requests failed" % len(failures), file=sys.stderr)
        return 1
    return 0


def post_templates(args):
    """Bodies for the POST phase. The session and station ids are left as
    placeholders that post.lua fills in per request, so wrk only concatenates
    strings instead of building ~120 KB of JSON per request."""
    rng = random.Random(args.seed + 1)
    start = args.end_epoch - 60 * (args.minutes - 1)
    for k in range(args.variants):
        state = new_charger(rng)
        body = {
            "charging_station_id": "@STATION@",
            "connector_id": "1",
            "meter_values": readings(state, start, args.minutes, rng),
            "session_id": "@SESSION@",
        }
        with open("%s/post-%d.json" % (args.out_dir, k), "w") as out:
            json.dump(body, out, separators=(",", ":"))
    return 0


def verify(args):
    """Every 200 must be in the database, checked request by request: each
    session must hold every minute from its start to where the run stopped
    (a run fails on any answer but 200, so every minute sent was
    acknowledged). GET reads the database, not the server's in-memory copy
    of hot sessions."""
    client = Client("127.0.0.1", args.port, args.token)
    states = []
    with open(args.state) as f:
        for line in f:
            if not line.startswith("#"):
                sid, start, nxt = line.split("\t")[:3]
                states.append((sid, int(start), int(nxt)))

    def stored(entry):
        sid, start, nxt = entry
        status, payload = client.call("GET", "/v1/sessions/" + sid)
        if status != 200:
            return sid, None, []
        stamps = {
            int(datetime.fromisoformat(mv["timestamp"].replace("Z", "+00:00")).timestamp())
            for mv in json.loads(payload)["meter_values"]
            if mv["measurand"] == ENERGY
        }
        missing = [t for t in range(start, nxt, 60) if t not in stamps]
        return sid, len(stamps), missing

    total_new = 0
    missing_readings = []
    unreadable = 0
    with concurrent.futures.ThreadPoolExecutor(args.workers) as pool:
        for sid, count, missing in pool.map(stored, states):
            if count is None:
                unreadable += 1
                continue
            total_new += count - args.history_minutes
            missing_readings += [(sid, t) for t in missing]
    all_acked = args.acked == args.sent
    ok = unreadable == 0 and args.acked <= total_new <= args.sent and (not all_acked or not missing_readings)
    one_by_one = ("%d acknowledged readings missing" % len(missing_readings) if all_acked
                  else "not checked one by one (some answers were not 200)")
    print("durability check: %d PATCH readings acknowledged with 200, %d stored, %d sent; %s, "
          "%d sessions unreadable -> %s"
          % (args.acked, total_new, args.sent, one_by_one, unreadable, "OK" if ok else "MISMATCH"))
    for sid, t in missing_readings[:10]:
        print("  missing: %s at %s" % (sid, datetime.fromtimestamp(t, timezone.utc).isoformat()))
    return 0 if ok else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("seed")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--sessions", type=int, default=1000)
    p.add_argument("--history-minutes", type=int, default=300)
    p.add_argument("--end-epoch", type=int, required=True)
    p.add_argument("--state-out", required=True)
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--seed", type=int, default=42)

    p = sub.add_parser("post-templates")
    p.add_argument("--out-dir", required=True)
    p.add_argument("--variants", type=int, default=8)
    p.add_argument("--minutes", type=int, default=360)
    p.add_argument("--end-epoch", type=int, required=True)
    p.add_argument("--seed", type=int, default=42)

    p = sub.add_parser("verify")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--state", required=True)
    p.add_argument("--history-minutes", type=int, default=300)
    p.add_argument("--acked", type=int, required=True)
    p.add_argument("--sent", type=int, required=True)
    p.add_argument("--workers", type=int, default=4)

    args = parser.parse_args()
    return {"seed": seed, "post-templates": post_templates, "verify": verify}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
