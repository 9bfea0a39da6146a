# A second data shape for bench/footprint: 1000 presses, each one JSON message a second with ten
# readings (a random-walk temperature, a pressure, a constant setpoint, a counter, a rarely changing
# state, a noisy flow, an integer rpm, a float32 vibration, humidity in 0.5 steps, a voltage) and
# its own clock (ms, on the second): 10 000 series stamped by the device.
#   json-plant.py MQTT_PORT SECONDS     (paho-mqtt; the test venv has it)
# Gateway subscription: {topic: plant/+/+/telemetry, pattern: "plant/{line}/{device}/telemetry",
#                        format: json, json: {timestamp: {path: ts, unit: ms}}}
import json, random, sys, time, struct
import paho.mqtt.client as mqtt
port, seconds = int(sys.argv[1]), int(sys.argv[2])
random.seed(7)
c = mqtt.Client(client_id="shape2-pub"); c.connect("127.0.0.1", port); c.loop_start()
devs = []
for i in range(1000):
    devs.append(dict(line=f"line-{i % 20}", dev=f"press-{i:04d}", temp=60 + random.uniform(-5, 5), pressure=4 + random.uniform(-1, 1),
                     setpoint=float(random.choice([50, 55, 60])), count=random.randint(0, 10**6), state=1, flow=12.0, rpm=1450, hum=45.0, volt=230.0))
start = (int(time.time()) + 1)
sent = 0
for s in range(seconds):
    t = start + s
    while time.time() < t: time.sleep(0.002)
    for d in devs:
        d["temp"] += random.gauss(0, 0.05) + 0.01 * (60 - d["temp"])
        d["pressure"] += random.gauss(0, 0.01)
        d["count"] += random.randint(0, 3)
        if random.random() < 0.002: d["state"] = 1 - d["state"]
        d["flow"] = 12 + random.gauss(0, 0.4)
        d["rpm"] = 1450 + random.randint(-3, 3)
        if random.random() < 0.05: d["hum"] += random.choice([-0.5, 0.5])
        d["volt"] = 230 + round(random.gauss(0, 0.6), 1)
        vib = struct.unpack('f', struct.pack('f', abs(random.gauss(0.8, 0.2))))[0]
        payload = {"ts": t * 1000, "temp": round(d["temp"], 1), "pressure": round(d["pressure"], 2), "setpoint": d["setpoint"],
                   "count": d["count"], "state": d["state"], "flow": round(d["flow"], 3), "rpm": d["rpm"], "vib": vib,
                   "hum": d["hum"], "volt": round(d["volt"], 1)}
        c.publish(f"plant/{d['line']}/{d['dev']}/telemetry", json.dumps(payload), qos=0)
        sent += 1
    if s % 60 == 0: print(f"{s} s, {sent} messages", flush=True)
print(f"done, {sent} messages, {sent * 10} readings", flush=True)
c.loop_stop(); c.disconnect()
