"""The docs' screenshots, from real runs in headless Chromium (Playwright): the pre-promotion gate
against 1.5.0-rc1 on the run stack (its report and its candidate run's report), or with --matrix
six cells of the run stack's resilience matrix (its report's heat map, about 6 minutes).

    .venv/bin/python scripts/screenshots.py [--matrix] [--out docs/img]
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


#: The matrix picture's cells: both telemetry hangs (one unbounded call, one link no traffic crosses),
#: and one cell each of a hang that spreads, a refused link, a hang of Studio's and a killed service.
MATRIX_CELLS = ["hang:*->telemetry-collector", "hang:run-pool->publications", "down:run-pool->broker",
                "hang:studio->shared-pool", "kill:telemetry-collector"]


def shoot(pages: dict[str, Path], out: Path, *, full_page: bool = False) -> None:
    """Screenshot each page (a file) into out/name."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        for name, page_path in pages.items():
            page = browser.new_page(viewport={"width": 1280, "height": 900 if full_page else 1500})
            page.goto(page_path.resolve().as_uri())
            page.wait_for_timeout(500)
            page.screenshot(path=str(out / name), full_page=full_page)
            print(f"{out / name}  <- {page_path}")
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(ROOT / "docs" / "img"))
    parser.add_argument("--matrix", action="store_true", help="the matrix report (matrix-report.png) instead")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.matrix:
        return matrix(out)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "chaos", "gate", "gates/pre-promotion.yaml", "--only",
                        "telemetry-release-hang", "--candidate", "TELEMETRY_RELEASE=1.5.0-rc1", "--out", tmp],
                       cwd=ROOT, timeout=1200, stdin=subprocess.DEVNULL)
        gate_dir = next((Path(tmp) / "gates").glob("*"))
        verdict = json.loads((gate_dir / "verdict.json").read_text())
        cand = next(r for r in verdict["runs"] if r["side"] == "candidate")
        shoot({"gate-report.png": gate_dir / "report.html",
               "run-report.png": Path(cand["run_dir"]) / "report.html"}, out)


def matrix(out: Path) -> None:
    """Run MATRIX_CELLS on the run stack under the incident experiments' load; shoot the report."""
    cells = [a for c in MATRIX_CELLS for a in ("--cells", c)]
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "chaos", "matrix", "--surfaces", "runstack-default", "--load",
                        "experiments/load/runstack_tenants.py", "--target", "scheduler", "--users", "14",
                        "--load-env", "ENGINEERS=6", "--set", "RUNSTACK_TIME_SCALE=0.25", "--set",
                        "STUDIO_SESSION_MIN=0.1", *cells, "--out", tmp],
                       cwd=ROOT, timeout=1800, stdin=subprocess.DEVNULL)
        matrix_dir = next((Path(tmp) / "matrices").glob("*"))
        shoot({"matrix-report.png": matrix_dir / "report.html"}, out, full_page=True)


if __name__ == "__main__":
    main()
