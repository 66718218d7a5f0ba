"""The help centre's search page in headless Chromium at a phone's and a desk's width: an empty result is a
sentence, not a numbered list item; a typo shows what was searched instead. Screenshots under var/screenshots/."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from tests.browser import DESK, PHONE, chromium, screenshot
from tests.knowledge.factories import ArticleFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.mark.parametrize("size", [pytest.param(PHONE, id="390"), pytest.param(DESK, id="1366")])
def test_no_match_and_a_typo(live_server, tmp_path, size):
    ArticleFactory(title="How do I get a refund?", slug="refund-test", tags=["refund"], body="Within 30 days.")
    with chromium(tmp_path, size) as browser:
        browser.get(f"{live_server.url}/kb/search/?q=xylophone")
        empty = browser.find_element(By.CSS_SELECTOR, ".kb-empty")
        assert empty.text.startswith("Nothing matched.")
        assert not browser.find_elements(By.CSS_SELECTOR, "ol li, ol.kb-results")
        # What a reader sees: no list number in front of the sentence.
        assert "1. Nothing matched" not in browser.find_element(By.TAG_NAME, "main").text
        screenshot(browser, f"kb-search-empty-{size[0]}")

        browser.get(f"{live_server.url}/kb/search/?q=refnud")
        correction = browser.find_element(By.CSS_SELECTOR, ".kb-correction")
        assert correction.is_displayed()
        assert "Did you mean refund?" in correction.text
        assert browser.find_element(By.ID, "kb-results").text.startswith("Showing")
        links = [a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, "ol.kb-results li > a")]
        assert f"{live_server.url}/kb/refund-test/" in links
        screenshot(browser, f"kb-search-typo-{size[0]}")
