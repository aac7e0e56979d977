"""The README's screenshots, from a real run: the pre-promotion gate against 1.5.0-rc1 on the run
stack, then its report and its candidate run's report in headless Chromium (Playwright).

    .venv/bin/python scripts/screenshots.py [--out docs/img]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def shoot(pages: dict[str, Path], out: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        for name, page_path in pages.items():
            page = browser.new_page(viewport={"width": 1280, "height": 1500})
            page.goto(page_path.resolve().as_uri())
            page.wait_for_timeout(500)
            page.screenshot(path=str(out / name))
            print(f"{out / name}  <- {page_path}")
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(ROOT / "docs" / "img"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "chaos", "gate", "gates/pre-promotion.yaml", "--only",
                        "telemetry-release-hang", "--candidate", "TELEMETRY_RELEASE=1.5.0-rc1", "--out", tmp],
                       cwd=ROOT, timeout=1200, stdin=subprocess.DEVNULL)
        gate_dir = next((Path(tmp) / "gates").glob("*"))
        verdict = json.loads((gate_dir / "verdict.json").read_text())
        cand = next(r for r in verdict["runs"] if r["side"] == "candidate")
        shoot({"gate-report.png": gate_dir / "report.html",
               "run-report.png": Path(cand["run_dir"]) / "report.html"}, out)


if __name__ == "__main__":
    main()
