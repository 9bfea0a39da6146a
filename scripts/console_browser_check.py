#!/usr/bin/python3
"""The console in a real browser (Debian chromium + chromium-driver + python3-selenium).

    console_browser_check.py URL USER PASSWORD SCREENSHOT_DIR MOSQUITTO_PUB MQTT_PORT

Checks: a wrong password shows an error; the right one opens the overview with the link "live";
a value published to the broker appears on its card within 1 s; the card opens the series view,
whose chart loads the history and gains a point when the next value arrives; a refused payload
shows on the rejects page. Writes a screenshot of each page.
Exit status 0 when every check passed; one line per check on stdout.
"""
import os
import subprocess
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

url, user, password, shots, mosquitto_pub, mqtt_port = sys.argv[1:7]
os.makedirs(shots, exist_ok=True)
options = webdriver.ChromeOptions()
for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--ignore-certificate-errors",
                 "--window-size=1200,800", "--disable-gpu"]:
    options.add_argument(argument)
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
failures = 0


def check(name, condition):
    global failures
    print(("ok   " if condition else "FAIL ") + name, flush=True)
    failures += 0 if condition else 1


try:
    driver.get(url)
    wait = WebDriverWait(driver, 10)
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
    WebDriverWait(driver, 5, poll_frequency=0.02).until(
        lambda d: any(e.text == "42.5" for e in d.find_elements(By.CSS_SELECTOR, selector)))
    seconds = time.time() - published
    check("a published value appears within 1 s (%.3f s)" % seconds, seconds < 1.0)
    driver.save_screenshot(os.path.join(shots, "overview.png"))
    driver.set_window_size(390, 844)
    time.sleep(0.3)
    driver.save_screenshot(os.path.join(shots, "overview-phone.png"))
    driver.set_window_size(1200, 800)

    time.sleep(0.5)  # the store flushes every 100 ms in the test gateway
    driver.find_element(By.CSS_SELECTOR, '.card[data-series*="boiler-9"]').click()
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
    driver.save_screenshot(os.path.join(shots, "series.png"))

    subprocess.run([mosquitto_pub, "-h", "127.0.0.1", "-p", mqtt_port, "-t", "s/boiler-9/temperature", "-m", "warm"], check=True)
    time.sleep(0.3)
    driver.find_element(By.CSS_SELECTOR, 'nav a[href="#rejects"]').click()
    wait.until(lambda d: any("warm" in cell.text for cell in d.find_elements(By.CSS_SELECTOR, "#rejects-table td.payload")))
    check("a payload the gateway refused is listed with its reason on the rejects page", True)
    driver.save_screenshot(os.path.join(shots, "rejects.png"))
except Exception as error:  # a timeout names the step that did not happen
    check("unexpected: %r" % error, False)
    driver.save_screenshot(os.path.join(shots, "failure.png"))
finally:
    driver.quit()
sys.exit(1 if failures else 0)
