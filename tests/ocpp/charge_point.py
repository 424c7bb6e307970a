"""A charge point written with the `ocpp` package that runs one whole
transaction (boot, status, start, meter values every --interval seconds,
stop) against --url. Every frame it sends and receives is written, raw and
in order, to --log as JSON lines {"dir": "out"|"in", "raw"}. Prints the
transaction id, the energy register values it sent (in Wh) and the longest
a CALL waited for its answer (ms) as JSON.

    python charge_point.py --url ws://127.0.0.1:9100/ocpp/CP-1 --version 1.6 --log cp.jsonl
"""

import argparse
import asyncio
import base64
import json
import time
from datetime import datetime, timezone

from websockets.asyncio.client import connect

from ocpp.v16 import ChargePoint as Cp16
from ocpp.v16 import call as c16
from ocpp.v201 import ChargePoint as Cp201
from ocpp.v201 import call as c201


def now():
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Logged:
    log = None
    # The longest a CALL waited for its answer, in seconds.
    slowest = 0.0

    async def call(self, *args, **kwargs):
        started = time.monotonic()
        try:
            return await super().call(*args, **kwargs)
        finally:
            Logged.slowest = max(Logged.slowest, time.monotonic() - started)

    async def route_message(self, raw_msg):
        self.log.write(json.dumps({"dir": "in", "raw": raw_msg}) + "\n")
        self.log.flush()
        await super().route_message(raw_msg)

    async def _send(self, message):
        self.log.write(json.dumps({"dir": "out", "raw": message}) + "\n")
        self.log.flush()
        await super()._send(message)


class Station16(Logged, Cp16):
    pass


class Station201(Logged, Cp201):
    pass


def registers(args):
    """Energy register in Wh per sample: about 11 kW; --backwards drops it once."""
    values = []
    for i in range(args.samples + 2):
        wh = 1000 + round(11000 * i * args.interval / 3600, 3)
        if args.backwards and i >= args.samples // 2 + 1:
            wh -= 500
        values.append(wh)
    return values


async def run16(cp, args):
    wh = registers(args)
    await cp.call(c16.BootNotification(charge_point_vendor="evni-test", charge_point_model="py-ocpp"))
    await cp.call(c16.StatusNotification(connector_id=1, error_code="NoError", status="Preparing"))
    started = await cp.call(c16.StartTransaction(connector_id=1, id_tag="TAG-1", meter_start=int(wh[0]), timestamp=now()))
    tx = started.transaction_id
    await cp.call(c16.StatusNotification(connector_id=1, error_code="NoError", status="Charging"))
    for value in wh[1:-1]:
        await asyncio.sleep(args.interval)
        sample = {"value": f"{value}", "context": "Sample.Periodic", "measurand": "Energy.Active.Import.Register", "unit": "Wh"}
        await cp.call(c16.MeterValues(connector_id=1, transaction_id=tx, meter_value=[{"timestamp": now(), "sampledValue": [sample]}]))
    await asyncio.sleep(args.interval)
    await cp.call(c16.StopTransaction(meter_stop=int(wh[-1]), timestamp=now(), transaction_id=tx, reason="EVDisconnected"))
    await cp.call(c16.StatusNotification(connector_id=1, error_code="NoError", status="Available"))
    return str(tx), [int(wh[0])] + wh[1:-1] + [int(wh[-1])]


async def run201(cp, args):
    wh = registers(args)
    tx = "py-tx-1"
    scale = 10 ** args.multiplier

    def event(kind, seq, value, trigger):
        sampled = {"value": value / scale, "context": "Sample.Periodic", "unitOfMeasure": {"unit": "Wh", "multiplier": args.multiplier}}
        return c201.TransactionEvent(
            event_type=kind, timestamp=now(), trigger_reason=trigger, seq_no=seq,
            transaction_info={"transactionId": tx}, evse={"id": 1, "connectorId": 1},
            meter_value=[{"timestamp": now(), "sampledValue": [sampled]}],
        )

    await cp.call(c201.BootNotification(charging_station={"model": "py-ocpp", "vendorName": "evni-test"}, reason="PowerUp"))
    await cp.call(c201.StatusNotification(timestamp=now(), connector_status="Occupied", evse_id=1, connector_id=1))
    await cp.call(event("Started", 0, wh[0], "CablePluggedIn"))
    for seq, value in enumerate(wh[1:-1], start=1):
        await asyncio.sleep(args.interval)
        await cp.call(event("Updated", seq, value, "MeterValuePeriodic"))
    await asyncio.sleep(args.interval)
    await cp.call(event("Ended", len(wh) - 1, wh[-1], "EVCommunicationLost"))
    return tx, wh


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--version", choices=["1.6", "2.0.1"], default="1.6")
    parser.add_argument("--log", required=True)
    parser.add_argument("--user", default="CP")
    parser.add_argument("--password", default="secret")
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--backwards", action="store_true")
    parser.add_argument("--multiplier", type=int, default=0)
    args = parser.parse_args()
    token = base64.b64encode(f"{args.user}:{args.password}".encode()).decode()
    Logged.log = open(args.log, "w", encoding="utf-8")
    station = args.url.rstrip("/").split("/")[-1]
    async with connect(
        args.url,
        subprotocols=["ocpp" + args.version],
        additional_headers={"Authorization": f"Basic {token}"},
    ) as ws:
        assert ws.subprotocol == "ocpp" + args.version, ws.subprotocol
        cls, run = (Station16, run16) if args.version == "1.6" else (Station201, run201)
        cp = cls(station, ws)
        listener = asyncio.create_task(cp.start())
        tx, values = await run(cp, args)
        listener.cancel()
    print(json.dumps({"transaction_id": tx, "registers_wh": values, "slowest_call_ms": Logged.slowest * 1000}), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
