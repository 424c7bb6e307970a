"""A CSMS written with the `ocpp` package (1.6 and 2.0.1), behind HTTP Basic
auth. Every frame it receives and sends is appended, raw, to --log as JSON
lines {"station", "dir": "in"|"out", "raw"}, so the test can check that the
proxy changed nothing.

    python csms.py --port 9000 --log csms.jsonl --user CP --password secret
"""

import argparse
import asyncio
import itertools
import json
from datetime import datetime, timezone

import websockets
from websockets.asyncio.server import basic_auth, serve

from ocpp.routing import on
from ocpp.v16 import ChargePoint as Cp16
from ocpp.v16 import call_result as r16
from ocpp.v201 import ChargePoint as Cp201
from ocpp.v201 import call_result as r201

LOG = None
TRANSACTION_IDS = itertools.count(1)


def now():
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def record(station, direction, raw):
    LOG.write(json.dumps({"station": station, "dir": direction, "raw": raw}) + "\n")
    LOG.flush()


class Logged:
    async def route_message(self, raw_msg):
        record(self.id, "in", raw_msg)
        await super().route_message(raw_msg)

    async def _send(self, message):
        record(self.id, "out", message)
        await super()._send(message)


class Station16(Logged, Cp16):
    @on("BootNotification")
    def on_boot(self, **_):
        return r16.BootNotification(current_time=now(), interval=10, status="Accepted")

    @on("StatusNotification")
    def on_status(self, **_):
        return r16.StatusNotification()

    @on("StartTransaction")
    def on_start(self, **_):
        return r16.StartTransaction(transaction_id=next(TRANSACTION_IDS), id_tag_info={"status": "Accepted"})

    @on("MeterValues")
    def on_meter_values(self, **_):
        return r16.MeterValues()

    @on("StopTransaction")
    def on_stop(self, **_):
        return r16.StopTransaction()

    @on("Heartbeat")
    def on_heartbeat(self, **_):
        return r16.Heartbeat(current_time=now())


class Station201(Logged, Cp201):
    @on("BootNotification")
    def on_boot(self, **_):
        return r201.BootNotification(current_time=now(), interval=10, status="Accepted")

    @on("StatusNotification")
    def on_status(self, **_):
        return r201.StatusNotification()

    @on("TransactionEvent")
    def on_transaction_event(self, **_):
        return r201.TransactionEvent()

    @on("Heartbeat")
    def on_heartbeat(self, **_):
        return r201.Heartbeat(current_time=now())


async def handler(connection):
    station = connection.request.path.rstrip("/").split("/")[-1]
    cls = Station201 if connection.subprotocol == "ocpp2.0.1" else Station16
    try:
        await cls(station, connection).start()
    except websockets.exceptions.ConnectionClosed:
        pass


async def main():
    global LOG
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--user", default="CP")
    parser.add_argument("--password", default="secret")
    args = parser.parse_args()
    LOG = open(args.log, "a", encoding="utf-8")
    async with serve(
        handler,
        "127.0.0.1",
        args.port,
        subprotocols=["ocpp2.0.1", "ocpp1.6"],
        process_request=basic_auth(credentials=(args.user, args.password)),
    ):
        print("ready", flush=True)
        await asyncio.get_running_loop().create_future()


if __name__ == "__main__":
    asyncio.run(main())
