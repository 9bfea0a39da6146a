#!/usr/bin/env python3
"""A second, independent Sparkplug B edge node for Vigil's tests: mqtt-spb-wrapper (PyPI) on
Eclipse Tahu's Python payload code, in its own venv (.build/spb-venv: it pins protobuf 3.20 and
cannot share pysparkplug's). Its shape differs from scripts/sparkplug_edge.py on purpose: births
name metrics `ATTR/<name>` and `DATA/<name>` with aliases, data repeats name and alias, integers
are Int64, strings are Text, the device is a separate MQTT client, and the node's death and birth
certificates come from Tahu's own helpers.

Prints (flushed): "births published", "rebirth requested", "done publishing <n> messages".
"""
import argparse
import time

from mqtt_spb_wrapper import MqttSpbEntityDevice, MqttSpbEntityEdgeNode


def say(text):
    print(text, flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--group", default="tahu")
    parser.add_argument("--node", default="edge-t")
    parser.add_argument("--device", default="boiler-1")
    parser.add_argument("--messages", type=int, default=20)
    parser.add_argument("--interval", type=float, default=0.05)
    parser.add_argument("--stay", action="store_true")
    args = parser.parse_args()

    # include_spb_rebirth=False: 2.1.2 registers its own rebirth command with the result of
    # publish_birth() as the callback, so the first NCMD kills its network thread. We register it.
    node = MqttSpbEntityEdgeNode(args.group, args.node, include_spb_rebirth=False)
    device = MqttSpbEntityDevice(args.group, args.node, args.device)

    def on_rebirth(value):
        if value:
            say("rebirth requested")
            node.publish_birth()
            device.publish_birth()
    # The library's way to take a command: a callback on the command's value (called once here).
    node.commands.set_value("Node Control/Rebirth", False, callback_on_change=on_rebirth)

    node.attributes.set_value("description", "Vigil test edge node on mqtt-spb-wrapper")
    node.data.set_value("uptime_s", 0)
    node.data.set_value("cpu_temperature", 41.5)
    device.attributes.set_value("model", "XB-200")
    device.data.set_value("water_temperature", 71.25)
    device.data.set_value("burner_on", True)
    device.data.set_value("pressure_delta", -3)

    for entity in (node, device):
        if not entity.connect("127.0.0.1", args.port, client_id=f"{args.node}-{id(entity)}"):
            raise SystemExit("cannot connect")
    time.sleep(0.3)
    node.publish_birth()
    device.publish_birth()
    say("births published")
    for k in range(1, args.messages + 1):
        node.data.set_value("uptime_s", k)
        node.data.set_value("cpu_temperature", 41.5 + k / 10)
        node.publish_data()
        device.data.set_value("water_temperature", 71.25 + k)
        device.data.set_value("burner_on", k % 2 == 0)
        device.data.set_value("pressure_delta", -3 - k)
        device.publish_data()
        time.sleep(args.interval)
    say(f"done publishing {args.messages} messages")
    if args.stay:
        while True:
            time.sleep(3600)
    device.disconnect()
    node.disconnect()
    time.sleep(0.2)


if __name__ == "__main__":
    main()
