#!/usr/bin/python3
"""The console's fleet overview in a real browser (Debian chromium + chromium-driver + python3-selenium).

    console_fleet_check.py URL USER PASSWORD SCREENSHOT_DIR SITES SERIES MOSQUITTO_PUB MQTT_PORT

The gateway is fed by `vigil simulate` (sites `site-1` … `site-SITES`, SERIES series or more in
all, labels `site` and `device`). Checks: the overview lists every series while only the cards in
view are in the DOM (at most 3 000 nodes in the page); the tree shows the sites, a site shows its
devices, a device opens its page (a chart of the last hour per metric, the value and time under
the pointer); the view is in the URL and a reload opens it again;
search narrows the cards as you type; the stale filter empties the grid of a live fleet, the
alerting filter keeps the series with alerts, and the refused filter finds the device whose payload
(published here with MOSQUITTO_PUB) the gateway just refused; scrolling
to the end brings the last cards without growing the DOM; the live stream carries only the series
on screen (the cards in view, the device's panels) and follows scrolling; a phone-sized window
still works.
Prints the time from login to a usable overview and from a keystroke to its results (measured,
not judged: bench/console measures the targets at 10 000 series). Writes a screenshot of each view.
Exit status 0 when every check passed; one line per check on stdout.
"""
import os
import subprocess
import sys
import time
from urllib.parse import quote

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from headless_chromium import chromium

url, user, password, shots, sites, series, mosquitto_pub, mqtt_port = sys.argv[1:9]
sites, series = int(sites), int(series)
os.makedirs(shots, exist_ok=True)
driver = chromium()
wait = WebDriverWait(driver, 20, poll_frequency=0.02, ignored_exceptions=[StaleElementReferenceException])
failures = 0


def check(name, condition):
    global failures
    print(("ok   " if condition else "FAIL ") + name, flush=True)
    failures += 0 if condition else 1


def js(script, *args):
    return driver.execute_script(script, *args)


def count():
    """Series shown / series known, from the status line `N of M series`."""
    text = driver.find_element(By.ID, "fleet-count").text.split()
    return (int(text[0]), int(text[2])) if len(text) >= 3 else (0, 0)


def cards():
    return js("return [...document.querySelectorAll('#grid .card')].map(c => c.dataset.series)")


def panels():
    return js("return [...document.querySelectorAll('#device:not([hidden]) .panel')].map(p => p.dataset.series)")


def watching():
    return js("return [...watch.subscribed]")


dom_nodes = lambda: js("return document.getElementsByTagName('*').length")

try:
    driver.get(url)
    wait.until(lambda d: d.find_element(By.ID, "login").is_displayed())
    driver.find_element(By.ID, "username").send_keys(user)
    driver.find_element(By.ID, "password").send_keys(password)
    started = time.time()
    driver.find_element(By.ID, "login-submit").click()
    wait.until(lambda d: count()[1] >= series and len(cards()) > 0)
    print("     login to a usable overview of %d series: %.2f s" % (count()[1], time.time() - started), flush=True)
    shown, known = count()
    check("the overview counts every series (%d of %d)" % (shown, known), shown == known >= series)
    nodes = dom_nodes()
    check("only the cards in view are in the DOM (%d cards, %d nodes)" % (len(cards()), nodes), len(cards()) < 200 and nodes <= 3000)
    tree_sites = js("return [...document.querySelectorAll('#tree a.level-1')].map(a => a.firstChild.textContent)")
    check("the tree lists the %d sites: %s" % (sites, " ".join(tree_sites[:4]) + " …"),
          sorted(tree_sites) == sorted("site-%d" % (i + 1) for i in range(sites)) and tree_sites[1] == "site-2")
    driver.save_screenshot(os.path.join(shots, "fleet-overview.png"))

    # The live stream carries the series on screen, not the fleet (the catalog gives the rest).
    wait.until(lambda d: sorted(watching()) == sorted(cards()))
    before = js("return live.received")
    time.sleep(3)
    received = js("return live.received") - before
    check("the live stream carries only the %d series on screen (%d readings in 3 s, of %d series)" % (len(watching()), received, known),
          0 < received <= 3 * 2 * len(watching()) + 20 and received < known)
    sparks = js("return [...document.querySelectorAll('#grid .card .spark polyline')].map(p => p.getAttribute('points') || '')")
    check("their sparklines start from the history that came with them (%d of %d drawn)" % (sum(1 for p in sparks if p), len(sparks)),
          sparks and all(p and "NaN" not in p for p in sparks))

    # A site, then a device, from the tree: the grid and the URL follow.
    driver.find_element(By.CSS_SELECTOR, '#tree a.level-1[data-path=\'["site-2"]\']').click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#tree a.level-2"))
    devices = js("return [...document.querySelectorAll('#tree a.level-2')].map(a => a.firstChild.textContent)")
    site_cards = cards()
    check("a site opens its %d devices, and the grid shows only its series" % len(devices),
          len(devices) > 1 and all('site="site-2"' in s for s in site_cards))
    device = devices[1]
    driver.find_element(By.CSS_SELECTOR, '#tree a.level-2[data-path=\'["site-2","%s"]\']' % device).click()
    wait.until(lambda d: panels() and all('device="%s"' % device in s for s in panels()))
    device_panels = panels()
    wait.until(lambda d: sorted(watching()) == sorted(device_panels))
    check("the device page subscribes to its %d metrics, and nothing else" % len(device_panels), True)
    check("a device opens its page: %d metrics, and the crumbs its place: %s" % (len(device_panels), driver.find_element(By.ID, "crumbs").text),
          0 < len(device_panels) <= 10 and device in driver.find_element(By.ID, "crumbs").text and cards() == [])
    charted = lambda d: js("return [...document.querySelectorAll('#device-panels canvas')].every(c => Number(c.dataset.points || 0) >= 1)")
    wait.until(charted)
    meta = js("return document.querySelector('#device-panels .panel .when').textContent")
    check("every metric of the device has its chart of the last hour, and its last reading: " + meta, meta.startswith("last reading"))
    canvas = driver.find_element(By.CSS_SELECTOR, "#device-panels canvas")
    webdriver.ActionChains(driver).move_to_element_with_offset(canvas, canvas.size["width"] // 2 - 5, 0).perform()
    wait.until(lambda d: js("return document.querySelector('#device-panels canvas').dataset.crosshair || ''"))
    check("the pointer shows the value and time under it: " + js("return document.querySelector('#device-panels canvas').dataset.crosshair"), True)
    check("the view is in the URL: " + driver.current_url.split("#", 1)[1], "at=site-2" in driver.current_url and device in driver.current_url)
    # The gateway's rule fires on every boiler: its alert is on the device page, with Ack.
    row = '#device-alerts tr[data-state="firing"]'
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, row))
    check("the device page lists its firing alert: " + driver.find_element(By.CSS_SELECTOR, row).text.replace("\n", " | ")[:80],
          "BoilerWarm" in driver.find_element(By.CSS_SELECTOR, row).text)
    WebDriverWait(driver, 10, ignored_exceptions=[StaleElementReferenceException]).until(
        lambda d: d.find_element(By.CSS_SELECTOR, row).find_element(By.XPATH, ".//button[text()='Ack']").click() or True)
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, row + " .note.ack"))
    check("an operator acknowledges it there", True)
    driver.save_screenshot(os.path.join(shots, "fleet-device.png"))
    driver.refresh()
    wait.until(lambda d: d.find_element(By.ID, "link-state").text == "live" and panels())
    wait.until(lambda d: sorted(panels()) == sorted(device_panels))
    check("a reload opens the same view", driver.find_element(By.CSS_SELECTOR, "#tree a[aria-current='true']").text.startswith(device))
    driver.back()
    wait.until(lambda d: "at=" + device not in d.current_url)
    wait.until(lambda d: len(cards()) > len(device_panels))
    check("back goes to the site", all('site="site-2"' in s for s in cards()))

    # Search as you type, from the whole fleet.
    driver.find_element(By.CSS_SELECTOR, '#crumbs a').click()
    wait.until(lambda d: count()[0] == count()[1])
    box = driver.find_element(By.ID, "search")
    box.send_keys("site-3 ")
    typed = time.time()
    box.send_keys(device)
    wait.until(lambda d: cards() and all('site="site-3"' in s and device in s for s in cards()))
    print("     keystroke to search results: %.0f ms (selenium's round trips included)" % ((time.time() - typed) * 1000), flush=True)
    check("search narrows to %d series of %s at site-3 (%s)" % (count()[0], device, driver.current_url.split("#", 1)[1]),
          count()[0] >= 1 and "q=site-3" in driver.current_url)
    driver.save_screenshot(os.path.join(shots, "fleet-search.png"))
    box.clear()
    box.send_keys(" ")
    wait.until(lambda d: count()[0] == count()[1])

    # Filters: a live fleet has nothing stale.
    driver.find_element(By.CSS_SELECTOR, '#filters button[data-filter="stale"]').click()
    wait.until(lambda d: count()[0] == 0)
    check("the stale filter shows no card of a live fleet", cards() == [])
    driver.find_element(By.CSS_SELECTOR, '#filters button[data-filter="alerting"]').click()
    wait.until(lambda d: 0 < count()[0] < count()[1] and cards())
    check("the alerting filter shows the %d boilers' temperatures" % count()[0],
          all("temperature" in s and "boiler-" in s for s in cards()))
    # A device whose payload is refused: the refused filter finds it by the reject's topic.
    subprocess.run([mosquitto_pub, "-h", "127.0.0.1", "-p", mqtt_port, "-t", "sensors/site-4/meter-03/temperature", "-m", "hot"], check=True)
    time.sleep(0.5)
    driver.find_element(By.CSS_SELECTOR, '#filters button[data-filter="refused"]').click()
    wait.until(lambda d: cards() and count()[0] < count()[1])
    check("the refused filter shows the device whose payload was refused (%d series: %s)" % (count()[0], " ".join(cards())[:90]),
          all('device="meter-03"' in s and 'site="site-4"' in s for s in cards()))
    driver.find_element(By.CSS_SELECTOR, '#filters button[data-filter=""]').click()
    wait.until(lambda d: count()[0] == count()[1] and cards())

    # Scrolling to the end brings the last cards; the DOM stays the same size.
    js("const v = document.getElementById('grid-viewport'); v.scrollTop = v.scrollHeight")
    last = js("return document.querySelector('#grid-spacer').offsetHeight")
    wait.until(lambda d: js("const g = document.getElementById('grid'); return g.getBoundingClientRect().bottom") > 0)
    time.sleep(0.3)
    check("scrolled to the end of %d px, the DOM holds %d nodes" % (last, dom_nodes()), dom_nodes() <= 3000 and len(cards()) > 0)
    scrolled = time.time() * 1000
    wait.until(lambda d: sorted(watching()) == sorted(cards()))
    before = js("return live.received")
    wait.until(lambda d: js("return [...document.querySelectorAll('#grid .card')].every(c => live.series.get(c.dataset.series).reading.t > arguments[0])", scrolled))
    # The snapshot of the cards that came into view can bring readings newer than the scroll
    # before the first update does: wait for updates (they come every second), then count.
    wait.until(lambda d: js("return live.received") > before)
    check("the cards scrolled into view are subscribed and get live readings (%d cards, %d readings)" % (len(cards()), js("return live.received") - before),
          js("return live.received") > before)
    driver.save_screenshot(os.path.join(shots, "fleet-end.png"))

    # A series' link opened directly, then another compared on its chart, found by search.
    first = 'temperature{device="boiler-02",site="site-2"}'
    driver.get(url + "#series/" + quote(first, safe=""))
    drawn = lambda d: int(d.find_element(By.ID, "chart").get_attribute("data-series") or "0")
    wait.until(lambda d: d.find_element(By.ID, "series").is_displayed() and drawn(d) >= 1)
    box = driver.find_element(By.ID, "compare-input")
    box.send_keys("temperature boiler-03 site=site-2")
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#compare-suggest li"))
    box.send_keys("\n")
    wait.until(lambda d: "with=" in d.current_url and drawn(d) == 2)
    legend = js("return [...document.querySelectorAll('#compare-legend li')].map(li => li.textContent)")
    check("a second series is compared on the chart: " + " | ".join(legend)[:110],
          len(legend) == 2 and 'device="boiler-03"' in legend[1])
    driver.save_screenshot(os.path.join(shots, "fleet-compare.png"))
    driver.find_element(By.CSS_SELECTOR, "#compare-legend li button").click()
    wait.until(lambda d: "with=" not in d.current_url and drawn(d) == 1)
    check("and taken off again", js("return document.querySelectorAll('#compare-legend li').length") == 0)
    driver.get(url + "#overview")
    wait.until(lambda d: cards())

    driver.set_window_size(390, 844)
    time.sleep(0.5)
    js("document.getElementById('grid-viewport').scrollTop = 0")
    time.sleep(0.3)
    check("a phone-sized window shows cards one or two to a row (%d cards)" % len(cards()),
          0 < len(cards()) < 60 and js("return getComputedStyle(document.getElementById('grid')).gridTemplateColumns.split(' ').length") <= 2)
    driver.save_screenshot(os.path.join(shots, "fleet-phone.png"))
except Exception as error:  # a timeout or a missing element: report it as a failed check
    check("unexpected: %s: %s" % (type(error).__name__, str(error).splitlines()[0] if str(error) else ""), False)
    driver.save_screenshot(os.path.join(shots, "fleet-failure.png"))
finally:
    driver.quit()
sys.exit(1 if failures else 0)
