#!/usr/bin/env python3
"""A Sparkplug B edge node for Vigil's tests and bench, built on pysparkplug (PyPI), a third-party
implementation: births with bdSeq, data with seq, its will as NDEATH, and it answers Vigil's
NCMD `Node Control/Rebirth` by publishing its births again.

Metrics: the node has Temperature (Double), Running (Boolean), Offset (Int32, negative values),
Firmware (String: Vigil refuses it with a reason); each device dev-<i> has Pressure (Float) and
Count (UInt16). With --alias the births define aliases and data messages carry only the alias.

Prints (flushed) what it does, for the tests to wait on: "births published", "gap made",
"rebirth requested", "done publishing <n> messages".
"""
import argparse
import sys
import threading
import time

import pysparkplug as sp
from pysparkplug import DataType, Metric

NODE_METRICS = [("Temperature", DataType.DOUBLE, 1), ("Running", DataType.BOOLEAN, 2),
                ("Offset", DataType.INT32, 3), ("Firmware", DataType.STRING, 4)]
DEVICE_METRICS = [("Pressure", DataType.FLOAT, 100), ("Count", DataType.UINT16, 101)]


def say(text):
    print(text, flush=True)


def now_ms():
    return int(time.time() * 1000)


class Edge:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.devices = [f"dev-{i}" for i in range(args.devices)]
        self.node = sp.EdgeNode(args.group, args.node, self.birth_metrics(node=True), cmd_callback=self.on_command)
        for _ in range(args.bdseq):  # a later session of the same node: its bdSeq moved on
            self.node._bd_seq  # noqa: B018 (the property advances pysparkplug's cycler)
        self.session = None
        for device in self.devices:
            self.node.register(sp.Device(device, self.birth_metrics(node=False)))

    def birth_metrics(self, node):
        metrics = []
        for name, datatype, alias in (NODE_METRICS if node else DEVICE_METRICS):
            value = {DataType.DOUBLE: 20.0, DataType.BOOLEAN: True, DataType.INT32: -1, DataType.STRING: "1.2.3",
                     DataType.FLOAT: 1.0, DataType.UINT16: 0}[datatype]
            metrics.append(Metric(timestamp=now_ms(), name=name, datatype=datatype, value=value,
                                  alias=alias if self.args.alias else None))
        return metrics

    def metric(self, name, datatype, alias, value):
        if self.args.alias:
            return Metric(timestamp=now_ms(), name=None, datatype=datatype, value=value, alias=alias)
        return Metric(timestamp=now_ms(), name=name, datatype=datatype, value=value)

    def publish(self, message_type, payload, device=None):
        topic = sp.Topic(message_type=message_type, group_id=self.args.group, edge_node_id=self.args.node, device_id=device)
        self.node._client.publish(sp.Message(topic=topic, payload=payload, qos=sp.QoS.AT_MOST_ONCE, retain=False),
                                  include_dtypes=not self.args.alias)

    def publish_births(self):
        """What pysparkplug does on connect, again: NBIRTH (seq 0, same bdSeq) and every DBIRTH."""
        node = self.node
        node._EdgeNode__seq_cycler = __import__("itertools").cycle(range(256))
        metrics = (*self.birth_metrics(node=True), self.session)
        self.publish(sp.MessageType.NBIRTH, sp.NBirth(timestamp=now_ms(), seq=node._seq, metrics=metrics))
        for device in self.devices:
            self.publish(sp.MessageType.DBIRTH, sp.DBirth(timestamp=now_ms(), seq=node._seq,
                                                          metrics=tuple(self.birth_metrics(node=False))), device)

    def on_command(self, _node, message):
        for metric in message.payload.metrics:
            if metric.name == "Node Control/Rebirth" and metric.value:
                say(f"rebirth requested on {message.topic}")
                with self.lock:
                    self.publish_births()

    def run(self):
        self.node._setup_will()
        # pysparkplug prepares the next session's bdSeq right after connecting; this session's
        # births and deaths must keep the one its will carries.
        self.session = self.node._bd_seq_metric
        self.node._setup_will = lambda: None
        self.node.connect("127.0.0.1", port=self.args.port, blocking=False)
        time.sleep(0.5)  # the connect callback publishes the births
        say("births published")
        for k in range(1, self.args.messages + 1):
            with self.lock:
                if k == self.args.gap_at:
                    self.node._seq  # noqa: B018 (a seq number skipped: as if a message was lost)
                    say("gap made")
                node_metrics = (self.metric("Temperature", DataType.DOUBLE, 1, 20.0 + k / 2),
                                self.metric("Offset", DataType.INT32, 3, -k))
                self.publish(sp.MessageType.NDATA, sp.NData(timestamp=now_ms(), seq=self.node._seq, metrics=node_metrics))
                for i, device in enumerate(self.devices):
                    device_metrics = (self.metric("Pressure", DataType.FLOAT, 100, 1.0 + k + i / 4),
                                      self.metric("Count", DataType.UINT16, 101, k))
                    self.publish(sp.MessageType.DDATA, sp.DData(now_ms(), seq=self.node._seq, metrics=device_metrics), device)
            time.sleep(self.args.interval)
        say(f"done publishing {self.args.messages} messages")
        if self.args.stay:
            while True:
                time.sleep(3600)
        self.node.disconnect()
        time.sleep(0.2)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--group", default="plant")
    parser.add_argument("--node", default="edge-1")
    parser.add_argument("--devices", type=int, default=2)
    parser.add_argument("--messages", type=int, default=20, help="data rounds (one NDATA and one DDATA per device each)")
    parser.add_argument("--interval", type=float, default=0.05, help="seconds between rounds")
    parser.add_argument("--gap-at", type=int, default=0, help="skip a seq number before this round (0: never)")
    parser.add_argument("--alias", action="store_true", help="data by alias only")
    parser.add_argument("--bdseq", type=int, default=0, help="start the session number here")
    parser.add_argument("--stay", action="store_true", help="stay connected after publishing (kill it to fire the will)")
    Edge(parser.parse_args()).run()


if __name__ == "__main__":
    sys.exit(main())
