"""Render the batch report in a real headless browser and save a screenshot (checks Chinese labels render).

    python benchmarks/report_screenshot.py [-o report.png]

Needs Debian's chromium and a CJK font (apt-get install chromium fonts-noto-cjk).
"""
import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-o", "--output", default="report.png")
    args = ap.parse_args()
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if not browser:
        sys.exit("chromium not found: apt-get install chromium fonts-noto-cjk")
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.html"
        voc = Path(sys.executable).parent / "voc"
        subprocess.run([str(voc), "score", str(ROOT / "data/samples/reviews.csv"), "-o", str(Path(tmp) / "out.csv"),
                        "--id-col", "id", "--time-col", "date", "--by", "category", "--rating-col", "rating",
                        "--report", str(report), "-q"], check=True)
        subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                        "--disable-background-networking", "--disable-component-update", "--disable-sync",
                        f"--user-data-dir={tmp}/profile", "--window-size=1200,2600", "--virtual-time-budget=5000",
                        f"--screenshot={Path(args.output).resolve()}", report.as_uri()], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
    print(f"screenshot → {args.output}")


if __name__ == "__main__":
    main()
