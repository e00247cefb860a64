"""Scripts that print measured figures (run them as `python benchmarks/NAME.py`), and the support code they share
with the tests: browser.py (a Streamlit server and headless Chromium) and drawn_digits.py (hand-made strokes)."""
