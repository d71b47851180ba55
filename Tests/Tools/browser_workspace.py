"""Works in the county's workspace in a real browser (headless Chromium
through selenium), as a township or county reviewer would: signs in with a
name and a password, then does one step. Prints what the browser saw as
JSON; screenshots go to SHOTS (a directory) when given.

  python3 browser_workspace.py return  BASE NAME PASSWORD SHOTS UNIT COMMENT
  python3 browser_workspace.py approve BASE NAME PASSWORD SHOTS INSTANCE
  python3 browser_workspace.py resolve BASE NAME PASSWORD SHOTS CONFLICT KEEP COMMENT
  python3 browser_workspace.py export  BASE NAME PASSWORD SHOTS DOWNLOADS PERIOD
  python3 browser_workspace.py forge   BASE NAME PASSWORD SHOTS INSTANCE

`forge` serves a page on another port of the same machine (another origin)
whose form posts an approval to the workspace, opens it in the signed-in
browser, and reports the page the server answered."""
import http.server
import json
import os
import sys
import threading
import time

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait


def start_browser(downloads=None, width=1200, height=900):
    options = Options()
    for argument in ["--headless=new", "--no-sandbox", f"--window-size={width},{height}", "--lang=zh-CN"]:
        options.add_argument(argument)
    prefs = {"intl.accept_languages": "zh-CN"}
    if downloads:
        prefs.update({"download.default_directory": downloads, "download.prompt_for_download": False})
    options.add_experimental_option("prefs", prefs)
    browser = webdriver.Chrome(options=options)
    if downloads:
        browser.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": downloads})
    return browser


def body(browser):
    return browser.find_element(By.TAG_NAME, "body").text


def submit(browser, element):
    """Clicks a button and waits (a loaded machine may take seconds) for the next page."""
    old = browser.find_element(By.TAG_NAME, "html")
    element.click()
    WebDriverWait(browser, 60).until(expected_conditions.staleness_of(old))
    WebDriverWait(browser, 60).until(lambda b: b.find_elements(By.TAG_NAME, "main"))


def sign_in(browser, base, name, password):
    browser.get(base + "/workspace")
    browser.find_element(By.NAME, "name").send_keys(name)
    browser.find_element(By.NAME, "password").send_keys(password)
    submit(browser, browser.find_element(By.CSS_SELECTOR, "form[action='/reports/login'] button"))


def shot(browser, shots, name):
    if shots and shots != "-":
        # The whole page, as tall as its content.
        height = browser.execute_script("return document.documentElement.scrollHeight")
        browser.set_window_size(browser.get_window_size()["width"], min(max(height, 600), 2400))
        browser.save_screenshot(os.path.join(shots, name + ".png"))
        browser.set_window_size(browser.get_window_size()["width"], 900)


def do_return(browser, base, shots, unit, comment):
    seen = {"home": body(browser)}
    shot(browser, shots, "workspace-home")
    browser.find_element(By.LINK_TEXT, "调查表").click()
    Select(browser.find_element(By.NAME, "form")).select_by_value("village-branch")
    period = browser.find_element(By.NAME, "period")
    period.clear()
    period.send_keys("2026")
    Select(browser.find_element(By.NAME, "review")).select_by_value("pending")
    search = browser.find_element(By.NAME, "q")
    search.send_keys(unit)
    submit(browser, browser.find_element(By.CSS_SELECTOR, "form.filters button"))
    seen["table_url"] = browser.current_url
    seen["rows"] = [row.text for row in browser.find_elements(By.CSS_SELECTOR, "#surveys tbody tr")]
    shot(browser, shots, "workspace-table")
    browser.find_element(By.CSS_SELECTOR, "#surveys tbody tr a").click()
    WebDriverWait(browser, 60).until(lambda b: b.find_elements(By.ID, "decide"))
    seen["survey"] = body(browser)
    browser.find_element(By.ID, "comment").send_keys(comment)
    shot(browser, shots, "workspace-survey")
    submit(browser, browser.find_element(By.CSS_SELECTOR, "#decide button[value='return']"))
    seen["after"] = body(browser)
    seen["status"] = browser.find_element(By.ID, "review-status").text
    seen["url"] = browser.current_url
    return seen


def do_approve(browser, base, shots, instance):
    browser.get(base + "/workspace/surveys/" + instance)
    seen = {"before": browser.find_element(By.ID, "review-status").text}
    seen["changes"] = [row.text for row in browser.find_elements(By.CSS_SELECTOR, "table.changes tbody tr")]
    submit(browser, browser.find_element(By.CSS_SELECTOR, "#decide button[value='approve']"))
    seen["status"] = browser.find_element(By.ID, "review-status").text
    seen["after"] = body(browser)
    return seen


def do_resolve(browser, base, shots, conflict, keep, comment):
    browser.get(base + "/workspace/conflicts")
    seen = {"list": body(browser)}
    browser.find_element(By.CSS_SELECTOR, f"#conflicts a[href^='/workspace/conflicts/{conflict}']").click()
    WebDriverWait(browser, 60).until(lambda b: b.find_elements(By.ID, "rivals"))
    seen["differing"] = [row.text for row in browser.find_elements(By.CSS_SELECTOR, "#rivals tr.differs")]
    shot(browser, shots, "workspace-conflict")
    browser.find_element(By.CSS_SELECTOR, f"#resolve input[value='{keep}']").click()
    browser.find_element(By.ID, "comment").send_keys(comment)
    submit(browser, browser.find_element(By.CSS_SELECTOR, "#resolve button"))
    seen["after"] = body(browser)
    return seen


def do_export(browser, base, shots, downloads, period):
    browser.get(base + "/workspace/exports")
    form = browser.find_element(By.ID, "export-village-branch")
    field = form.find_element(By.NAME, "period")
    field.clear()
    field.send_keys(period)
    Select(form.find_element(By.NAME, "format")).select_by_value("xlsx")
    form.find_element(By.CSS_SELECTOR, "button").click()
    deadline = time.time() + 120
    files = []
    while time.time() < deadline:
        files = [name for name in os.listdir(downloads) if name.endswith(".xlsx")]
        if files and not any(name.endswith(".crdownload") for name in os.listdir(downloads)):
            break
        time.sleep(0.2)
    return {"files": files}


def do_forge(browser, base, shots, instance):
    # A page of another origin (another port) that posts an approval on load.
    target = base + "/workspace/surveys/" + instance + "/review"
    page = f"""<!DOCTYPE html><html><body><form id="f" method="post" action="{target}">
<input name="action" value="approve"><input name="revision" value="2"></form>
<script>document.getElementById('f').submit()</script></body></html>""".encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        browser.get(f"http://127.0.0.1:{server.server_address[1]}/")
        WebDriverWait(browser, 60).until(lambda b: b.current_url.startswith(base))
        WebDriverWait(browser, 60).until(lambda b: b.find_elements(By.TAG_NAME, "main"))
        return {"url": browser.current_url, "answer": body(browser)}
    finally:
        server.shutdown()


def main(step, base, name, password, shots, *rest):
    downloads = rest[0] if step == "export" else None
    browser = start_browser(downloads)
    try:
        sign_in(browser, base, name, password)
        if step == "return":
            seen = do_return(browser, base, shots, *rest)
        elif step == "approve":
            seen = do_approve(browser, base, shots, *rest)
        elif step == "resolve":
            seen = do_resolve(browser, base, shots, *rest)
        elif step == "export":
            seen = do_export(browser, base, shots, *rest)
        elif step == "forge":
            seen = do_forge(browser, base, shots, *rest)
        else:
            raise SystemExit(f"unknown step {step}")
        if step == "approve" and shots and shots != "-":
            # The same page as a phone shows it.
            browser.set_window_size(390, 844)
            shot(browser, shots, "workspace-phone")
    finally:
        browser.quit()
    json.dump(seen, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main(*sys.argv[1:])
