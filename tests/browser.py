"""Reports in a real browser: headless Chromium driven by Playwright, and a page opened in it with
what it logged, fetched and tried to pop up. The `browser` fixture is in tests/conftest.py."""

from __future__ import annotations

from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


class Page:
    """A report opened in the browser, with what it logged, fetched and tried to pop up."""

    def __init__(self, browser, path: Path, shots: Path):
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.goto(path.resolve().as_uri())
        self.page.wait_for_load_state("load")
        self.page.wait_for_timeout(300)
        shots.mkdir(parents=True, exist_ok=True)
        self.shot = shots / (path.parent.name + ".png")
        self.page.screenshot(path=str(self.shot), full_page=True)
        print(f"\nscreenshot: {self.shot}")

    def assert_self_contained(self, path: Path) -> None:
        assert self.errors == [], self.errors
        assert self.requests == [path.resolve().as_uri()], f"requests outside the file: {self.requests}"

    def assert_charts_drawn(self, expected: int) -> None:
        canvases = self.page.locator(".chart canvas")
        assert canvases.count() == expected
        for i in range(expected):
            box = canvases.nth(i).bounding_box()
            assert box and box["width"] > 200 and box["height"] > 100, box

    def hover_shows_a_value(self) -> str:
        over = self.page.locator(".chart .u-over").first
        box = over.bounding_box()
        self.page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] / 2)
        self.page.wait_for_timeout(100)
        values = [v for v in self.page.locator(".chart").first.locator(".u-value").all_inner_texts() if v.strip()]
        shown = [v for v in values[1:] if v.strip() not in ("--", "")]
        assert shown, f"hovering showed no value: {values}"
        return shown[0]
