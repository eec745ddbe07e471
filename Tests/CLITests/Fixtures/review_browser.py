#!/usr/bin/env python3
"""Opens the daemon's review page in Debian's headless chromium (Selenium with chromium-driver), the way an operator
would: first at a phone's width, then at a desktop's; waits for an episode's card with its snapshot loaded, clicks
"Not an anomaly" on it, reloads and reads the verdict back from the page.

  review_browser.py --url http://127.0.0.1:PORT/ --pipeline belt --dismiss EPISODE_ID --screenshot page.png

Writes page-phone.png and page-desktop.png beside the --screenshot path (and the desktop one at that path), and
prints one JSON line last: {"ok", "dismissed": {"id", "feedback", "seen_after_reload"}, "views": {view: {"episodes":
[{"id", "snapshot": [w, h], "verdict"}], "fits_width"}}}. Exits 1 with the reason on stderr when something is
missing.
"""
import argparse
import json
import os
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

VIEWS = {"phone": (390, 844, True), "desktop": (1280, 900, False)}


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def wait(what, seconds, why):
    deadline = time.time() + seconds
    while time.time() < deadline:
        value = what()
        if value:
            return value
        time.sleep(0.25)
    raise SystemExit(f"review_browser: {why} within {seconds} s")


def card_selector(pipeline, episode):
    return f'article.episode[data-pipeline="{pipeline}"][data-id="{episode}"]'


# The cards as the page shows them: which snapshot image loaded at what natural size, and the verdict text.
READ_CARDS = """
return Array.from(document.querySelectorAll('article.episode')).map(a => {
  const img = a.querySelector('img.snapshot');
  const v = a.querySelector('.verdict');
  return {id: a.dataset.id, pipeline: a.dataset.pipeline,
          snapshot: img && img.complete && img.naturalWidth > 0 ? [img.naturalWidth, img.naturalHeight] : null,
          verdict: v ? v.textContent.trim() : null};
});
"""


def snapshot_loaded(driver, pipeline, episode):
    cards = driver.execute_script(READ_CARDS)
    card = next((c for c in cards if c["id"] == episode and c["pipeline"] == pipeline), None)
    return cards if card and card["snapshot"] else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--pipeline", required=True)
    ap.add_argument("--dismiss", required=True, help="the id of the episode to mark 'not an anomaly'")
    ap.add_argument("--screenshot", required=True)
    args = ap.parse_args()
    stem, ext = os.path.splitext(args.screenshot)

    driver = browser()
    report = {"ok": False, "views": {}}
    try:
        for view, (width, height, mobile) in VIEWS.items():
            driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                   {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile})
            driver.get(args.url)
            cards = wait(lambda: snapshot_loaded(driver, args.pipeline, args.dismiss), 60,
                         f"{view}: no card for episode {args.dismiss} with its snapshot loaded")
            fits = driver.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
            report["views"][view] = {"episodes": cards, "fits_width": fits,
                                     "inner_width": driver.execute_script("return window.innerWidth")}
            if view == "desktop":
                # Dismiss from the page, then reload: the verdict shown must be the daemon's, not the script's.
                card = driver.find_element(By.CSS_SELECTOR, card_selector(args.pipeline, args.dismiss))
                driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", card)
                card.find_element(By.CSS_SELECTOR, "button.dismiss").click()
                verdict = lambda: driver.find_element(
                    By.CSS_SELECTOR, card_selector(args.pipeline, args.dismiss) + " .verdict").text.strip()
                feedback = wait(lambda: verdict() or None, 15, "the card showed no verdict after the click")
                driver.get(args.url)
                wait(lambda: snapshot_loaded(driver, args.pipeline, args.dismiss), 30, "the card did not come back after a reload")
                card = driver.find_element(By.CSS_SELECTOR, card_selector(args.pipeline, args.dismiss))
                driver.execute_script("arguments[0].scrollIntoView({block: 'nearest'})", card)
                report["dismissed"] = {"id": args.dismiss, "feedback": feedback, "seen_after_reload": verdict()}
            driver.save_screenshot(f"{stem}-{view}{ext}")
        driver.save_screenshot(args.screenshot)
        report["ok"] = True
    finally:
        driver.quit()
        print(json.dumps(report))


if __name__ == "__main__":
    try:
        main()
    except SystemExit as e:
        if e.code not in (0, None):
            print(e.code, file=sys.stderr)
            sys.exit(1)
