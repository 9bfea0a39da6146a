"""Headless Chromium for the console's browser tests and bench (Debian chromium, chromium-driver
and python3-selenium): the one place that knows how it is started here."""
from selenium import webdriver
from selenium.webdriver.chrome.service import Service


def chromium(width=1200, height=800):
    """A driver for a new headless Chromium: no sandbox (CI runs as root), /tmp instead of a small
    /dev/shm, the gateway's self-signed certificate accepted, no GPU."""
    options = webdriver.ChromeOptions()
    for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--ignore-certificate-errors",
                     "--window-size=%d,%d" % (width, height), "--disable-gpu"]:
        options.add_argument(argument)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
