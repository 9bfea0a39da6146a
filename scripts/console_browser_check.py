#!/usr/bin/python3
"""The console in a real browser (Debian chromium + chromium-driver + python3-selenium).

    console_browser_check.py URL USER PASSWORD SCREENSHOT_DIR MOSQUITTO_PUB MQTT_PORT CONTROL_DIR

USER must have the operator role, and the gateway a rule firing on temperature > 100.
Checks: a wrong password shows an error; the right one opens the overview with the link "live";
a value published to the broker appears on its card within 1 s; the card opens the series view,
whose chart loads the history and gains a point when the next value arrives; a refused payload
shows on the rejects page; a firing alert shows on the alerts page and can be acknowledged; across
a gateway restart (asked for by writing CONTROL_DIR/restart.request, done when the test writes
CONTROL_DIR/restart.done) the indicator shows reconnecting then live, with no sequence gap, and the
alert is still there. Writes a screenshot of each page.
Exit status 0 when every check passed; one line per check on stdout.
"""
import os
import subprocess
import sys
import time

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from headless_chromium import chromium

url, user, password, shots, mosquitto_pub, mqtt_port, control = sys.argv[1:8]
os.makedirs(shots, exist_ok=True)
driver = chromium()
failures = 0


def stable(action):
    """The console repaints a table when the full list arrives after a live event, so an element
    found just before a repaint goes stale. Runs action(driver) again until it gets through."""
    result = []
    WebDriverWait(driver, 10, poll_frequency=0.05, ignored_exceptions=[StaleElementReferenceException]).until(
        lambda d: result.append(action(d)) or True)
    return result[-1]


def check(name, condition):
    global failures
    print(("ok   " if condition else "FAIL ") + name, flush=True)
    failures += 0 if condition else 1


try:
    driver.get(url)
    wait = WebDriverWait(driver, 10, ignored_exceptions=[StaleElementReferenceException])
    wait.until(lambda d: d.find_element(By.ID, "login").is_displayed())
    driver.find_element(By.ID, "username").send_keys(user)
    driver.find_element(By.ID, "password").send_keys("not the password")
    driver.find_element(By.ID, "login-submit").click()
    wait.until(lambda d: d.find_element(By.ID, "login-error").text)
    check("a wrong password shows an error: " + driver.find_element(By.ID, "login-error").text, True)
    driver.save_screenshot(os.path.join(shots, "login.png"))

    driver.find_element(By.ID, "password").clear()
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.ID, "login-submit").click()
    wait.until(lambda d: d.find_element(By.ID, "link-state").text == "live")
    check("the overview opens and the link is live", driver.find_element(By.ID, "overview").is_displayed())

    subprocess.run([mosquitto_pub, "-h", "127.0.0.1", "-p", mqtt_port, "-t", "s/boiler-9/temperature", "-m", "42.5"], check=True)
    published = time.time()
    selector = '.card[data-series*="boiler-9"] .value'
    WebDriverWait(driver, 5, poll_frequency=0.02, ignored_exceptions=[StaleElementReferenceException]).until(
        lambda d: any(e.text == "42.5" for e in d.find_elements(By.CSS_SELECTOR, selector)))
    seconds = time.time() - published
    check("a published value appears within 1 s (%.3f s)" % seconds, seconds < 1.0)

    # The heartbeat is RFC 6455 Ping/Pong: the browser answers by itself, the page never sees it,
    # and learns the round trip from the server's "rtt" message (ping_interval is 1 s here).
    try:
        WebDriverWait(driver, 10).until(lambda d: d.find_element(By.ID, "link-rtt").text.startswith("RTT "))
        check("the link shows the RTT measured with WebSocket pings: " + driver.find_element(By.ID, "link-rtt").text, True)
    except TimeoutException:
        check("the link shows the RTT measured with WebSocket pings (none within 10 s)", False)
    driver.save_screenshot(os.path.join(shots, "overview.png"))
    driver.set_window_size(390, 844)
    time.sleep(0.3)
    driver.save_screenshot(os.path.join(shots, "overview-phone.png"))
    driver.set_window_size(1200, 800)

    time.sleep(0.5)  # the store flushes every 100 ms in the test gateway
    stable(lambda d: d.find_element(By.CSS_SELECTOR, '.card[data-series*="boiler-9"]').click())
    points = lambda d: int(d.find_element(By.ID, "chart").get_attribute("data-points") or "0")
    wait.until(lambda d: d.find_element(By.ID, "series").is_displayed() and points(d) >= 1)
    before = points(driver)
    check("the series view loads its history (%d points)" % before, before >= 1)
    subprocess.run([mosquitto_pub, "-h", "127.0.0.1", "-p", mqtt_port, "-t", "s/boiler-9/temperature", "-m", "43.5"], check=True)
    wait.until(lambda d: points(d) > before)
    check("the chart gains the live point (%d points)" % points(driver), True)
    driver.find_element(By.CSS_SELECTOR, '.ranges button[data-range="24h"]').click()
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, '.ranges button[data-range="24h"]').get_attribute("aria-pressed") == "true"
               and points(d) >= 1)
    check("the 24 h range loads", True)
    # Drag across the last fifth of the chart, to its right edge (now): the view zooms into that
    # time, in the URL. (Offsets are from the element's centre.)
    chart = driver.find_element(By.ID, "chart")
    width = chart.size["width"]
    webdriver.ActionChains(driver).move_to_element_with_offset(chart, int(width * 0.3), 0).click_and_hold() \
        .move_by_offset(int(width * 0.2) - 3, 0).release().perform()
    wait.until(lambda d: "from=" in d.current_url and d.find_element(By.ID, "chart-reset").is_displayed() and points(d) >= 1)
    check("a drag across the chart zooms into that time (%d points, %s)" % (points(driver), driver.find_element(By.ID, "series-info").text[:60]),
          "zoomed" in driver.find_element(By.ID, "series-info").text)
    driver.save_screenshot(os.path.join(shots, "series-zoomed.png"))
    driver.find_element(By.ID, "chart-reset").click()
    wait.until(lambda d: "from=" not in d.current_url and not d.find_element(By.ID, "chart-reset").is_displayed() and points(d) >= 1)
    check("Reset zoom returns to the range", True)
    driver.save_screenshot(os.path.join(shots, "series.png"))

    subprocess.run([mosquitto_pub, "-h", "127.0.0.1", "-p", mqtt_port, "-t", "s/boiler-9/temperature", "-m", "warm"], check=True)
    time.sleep(0.3)
    driver.find_element(By.CSS_SELECTOR, 'nav a[href="#rejects"]').click()
    wait.until(lambda d: any("warm" in cell.text for cell in d.find_elements(By.CSS_SELECTOR, "#rejects-table td.payload")))
    check("a payload the gateway refused is listed with its reason on the rejects page", True)
    driver.save_screenshot(os.path.join(shots, "rejects.png"))

    publish = lambda value: subprocess.run([mosquitto_pub, "-h", "127.0.0.1", "-p", mqtt_port, "-t", "s/boiler-9/temperature",
                                            "-m", value], check=True)
    publish("120")
    driver.find_element(By.CSS_SELECTOR, 'nav a[href="#alerts"]').click()
    firing_row = '#alerts-table tr[data-state="firing"]'
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, firing_row))
    time.sleep(0.8)  # the live event paints the row at once; the full list (with silences) follows 0.5 s later
    row_text = stable(lambda d: d.find_element(By.CSS_SELECTOR, firing_row).text)
    check("a firing alert appears on the alerts page: " + row_text.replace("\n", " | "), "BoilerTooHot" in row_text)
    check("the nav shows the firing count", driver.find_element(By.ID, "alerts-badge").text == "1")
    stable(lambda d: d.find_element(By.CSS_SELECTOR, firing_row).find_element(By.XPATH, ".//button[text()='Ack']").click())
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, firing_row + " .note.ack"))
    check("an operator acknowledges it: " + stable(lambda d: d.find_element(By.CSS_SELECTOR, firing_row + " .note.ack").text), True)
    driver.save_screenshot(os.path.join(shots, "alerts.png"))

    # The gateway restarts (same port, same data directory) while the console watches.
    driver.find_element(By.CSS_SELECTOR, 'nav a[href="#overview"]').click()
    open(os.path.join(control, "restart.request"), "w").close()
    seen = []
    deadline = time.time() + 60
    while time.time() < deadline:
        state = driver.find_element(By.ID, "link-state").text
        if not seen or seen[-1] != state:
            seen.append(state)
            if state == "reconnecting":
                driver.save_screenshot(os.path.join(shots, "reconnecting.png"))
        if "reconnecting" in seen and state == "live" and os.path.exists(os.path.join(control, "restart.done")):
            break
        time.sleep(0.02)
    check("across a gateway restart the indicator goes " + " -> ".join(seen), seen[-1] == "live" and "reconnecting" in seen)
    driver.find_element(By.CSS_SELECTOR, 'nav a[href="#alerts"]').click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, firing_row + " .note.ack"))
    check("the firing alert and its acknowledgement survive the restart", True)
    driver.find_element(By.CSS_SELECTOR, 'nav a[href="#overview"]').click()
    publish("44.5")
    WebDriverWait(driver, 5, poll_frequency=0.02, ignored_exceptions=[StaleElementReferenceException]).until(
        lambda d: any(e.text == "44.5" for e in d.find_elements(By.CSS_SELECTOR, selector)))
    check("values arrive again after the restart", True)
    gaps = driver.find_element(By.TAG_NAME, "body").get_attribute("data-seq-gaps") or "0"
    check("no sequence gap across the restart", gaps == "0")
    driver.find_element(By.CSS_SELECTOR, 'nav a[href="#alerts"]').click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '#alerts-table tr[data-state="resolved"]'))
    check("the alert shows as resolved once the value is back under the threshold", True)
    driver.save_screenshot(os.path.join(shots, "alerts-resolved.png"))
except Exception as error:  # a timeout names the step that did not happen
    check("unexpected: %r" % error, False)
    driver.save_screenshot(os.path.join(shots, "failure.png"))
finally:
    driver.quit()
sys.exit(1 if failures else 0)
