"""Signs in to the report page in a real browser (headless Chromium through
selenium), as a county clerk would: the sign-in form, the page, the sign-out
button, the page again. Prints what the browser saw as JSON, and saves a
screenshot of the signed-in page.
  python3 browser_signin.py URL TOKEN SCREENSHOT"""
import json
import sys

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait


def main(url, token, screenshot):
    options = Options()
    for argument in ["--headless=new", "--no-sandbox", "--window-size=1200,900", "--lang=zh-CN"]:
        options.add_argument(argument)
    options.add_experimental_option("prefs", {"intl.accept_languages": "zh-CN"})
    browser = webdriver.Chrome(options=options)
    seen = {}
    try:
        browser.get(url)
        seen["before"] = browser.find_element(By.TAG_NAME, "body").text
        # The token field is folded under "或用访问令牌登录" (people sign in with a name and a password).
        browser.find_element(By.TAG_NAME, "summary").click()
        browser.find_element(By.NAME, "token").send_keys(token)
        old = browser.find_element(By.TAG_NAME, "body")
        browser.find_element(By.CSS_SELECTOR, "form[action='/reports/login'] button").click()
        # A click does not wait for the next page: wait for it (a loaded
        # machine may take seconds), then read it.
        wait = WebDriverWait(browser, 60)
        wait.until(expected_conditions.staleness_of(old))
        wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "form[action='/reports/logout'], form[action='/reports/login']"))
        seen["title"] = browser.title
        seen["cookies"] = [
            {"name": c["name"], "value": c["value"], "httpOnly": c.get("httpOnly"), "sameSite": c.get("sameSite"), "path": c.get("path")}
            for c in browser.get_cookies()
        ]
        seen["page"] = browser.find_element(By.TAG_NAME, "body").text
        seen["charts"] = len(browser.find_elements(By.TAG_NAME, "svg"))
        browser.save_screenshot(screenshot)
        old = browser.find_element(By.TAG_NAME, "body")
        browser.find_element(By.CSS_SELECTOR, "form[action='/reports/logout'] button").click()
        wait.until(expected_conditions.staleness_of(old))
        seen["signed_out"] = browser.find_element(By.TAG_NAME, "body").text
        browser.get(url)
        seen["after"] = browser.find_element(By.TAG_NAME, "body").text
    finally:
        browser.quit()
    json.dump(seen, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main(*sys.argv[1:4])
