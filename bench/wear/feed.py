#!/usr/bin/env python3
"""bench/wear: one stream of sensor readings, fed at the same time to Vigil (MQTT, one JSON
payload per device through mosquitto), VictoriaMetrics (Influx line protocol over HTTP) and
Prometheus (remote write 1.0). Standard library only: MQTT 3.1.1 QoS 0, protobuf and a
literal-only Snappy block are written by hand below (bench code, not product code).

usage: feed.py MQTT_PORT VM_PORT PROM_PORT DEVICES RATE SECONDS
  DEVICES devices × 4 metrics (temperature 0.1 °C random walk, humidity in 0.5 % steps, power
  with 3 decimals and step changes, a monotonic energy counter), RATE readings per second each,
  device-stamped with ±200 ms jitter at 1 Hz (an exact grid above 1 Hz). Prints one line per
  second: the samples sent so far.
"""
import http.client, random, socket, struct, sys, time

mqtt_port, vm_port, prom_port, devices, rate, seconds = map(int, sys.argv[1:7])
rng = random.Random(16)

# --- MQTT 3.1.1, QoS 0 ---------------------------------------------------------------------
def remaining_length(n):
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)

def mqtt_string(s):
    b = s.encode()
    return struct.pack(">H", len(b)) + b

mqtt = socket.create_connection(("127.0.0.1", mqtt_port))
body = mqtt_string("MQTT") + bytes([4, 2]) + struct.pack(">H", 600) + mqtt_string("bench-wear-feed")
mqtt.sendall(bytes([0x10]) + remaining_length(len(body)) + body)
assert mqtt.recv(4)[:2] == b"\x20\x02", "no CONNACK"

def publish(topic, payload):
    body = mqtt_string(topic) + payload
    return bytes([0x30]) + remaining_length(len(body)) + body

# --- protobuf and Snappy for remote write -------------------------------------------------
def varint(n):
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)

def field_bytes(number, payload):
    return varint(number << 3 | 2) + varint(len(payload)) + payload

def snappy_literal(data):
    out = bytearray(varint(len(data)))
    for start in range(0, len(data), 65536):
        piece = data[start:start + 65536]
        n = len(piece) - 1
        out += bytes([61 << 2]) + struct.pack("<H", n) if n >= 60 else bytes([n << 2])
        out += piece
    return bytes(out)

def timeseries(labels, samples):
    body = b"".join(field_bytes(1, field_bytes(1, k.encode()) + field_bytes(2, v.encode())) for k, v in sorted(labels))
    for t, v in samples:
        body += field_bytes(2, bytes([0x09]) + struct.pack("<d", v) + bytes([0x10]) + varint(t))
    return field_bytes(1, body)

def post(port, path, body, headers):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("POST", path, body=body, headers=headers)
    response = connection.getresponse()
    response.read()
    connection.close()
    if response.status >= 300:
        print(f"{path}: HTTP {response.status}", file=sys.stderr)

# --- the data ------------------------------------------------------------------------------
state = [{"temperature": round(rng.uniform(15, 30), 1), "humidity": rng.randrange(60, 160) / 2,
          "power": round(rng.uniform(100, 900), 3), "energy": rng.randrange(10_000, 90_000) / 10}
         for _ in range(devices)]
phase = [rng.randrange(0, 1000) for _ in range(devices)]
start_ms = (int(time.time()) - 1) * 1000
sent = 0
tick = time.monotonic()
for second in range(seconds):
    mqtt_bytes = bytearray()
    influx = []
    series = []
    for d in range(devices):
        s = state[d]
        rows = []
        for k in range(rate):
            if rng.random() < 0.3: s["temperature"] = round(s["temperature"] + rng.choice((-0.1, 0.1)), 1)
            if rng.random() < 0.05: s["humidity"] = min(100, max(0, s["humidity"] + rng.choice((-0.5, 0.5))))
            if rng.random() < 0.02: s["power"] = round(rng.uniform(100, 900), 3)
            s["energy"] = round(s["energy"] + s["power"] / 3_600_000 / rate, 3)
            if rate == 1:
                t = start_ms + second * 1000 + phase[d] + rng.randrange(-200, 201)
            else:
                t = start_ms + second * 1000 + k * (1000 // rate)
            rows.append((t, dict(s)))
            mqtt_bytes += publish(f"wear/dev-{d}", ('{"t":%d,"temperature":%r,"humidity":%r,"power":%r,"energy":%r}'
                                                    % (t, s["temperature"], s["humidity"], s["power"], s["energy"])).encode())
            influx.append("wear,device=dev-%d temperature=%r,humidity=%r,power=%r,energy=%r %d"
                          % (d, s["temperature"], s["humidity"], s["power"], s["energy"], t * 1_000_000))
        for metric in ("temperature", "humidity", "power", "energy"):
            series.append(timeseries([("__name__", metric), ("device", f"dev-{d}")], [(t, v[metric]) for t, v in rows]))
    mqtt.sendall(mqtt_bytes)
    post(vm_port, "/write", "\n".join(influx).encode(), {"Content-Type": "text/plain"})
    post(prom_port, "/api/v1/write", snappy_literal(b"".join(series)),
         {"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf",
          "X-Prometheus-Remote-Write-Version": "0.1.0"})
    sent += devices * rate * 4
    print(sent, flush=True)
    tick += 1
    delay = tick - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    elif delay < -5:
        print(f"feed is {-delay:.1f} s behind", file=sys.stderr)
