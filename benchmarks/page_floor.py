"""What Streamlit's own elements cost a page, as ratios to a bare Streamlit page measured alongside.

`page_load.py` compares each dashboard page with a bare page (a title and a line of text). This script shows how
much of that ratio the dashboard cannot remove without taking content away: each "floor" is the bare page plus
one kind of content the dashboard's pages hold, built from Streamlit's own elements (or the dashboard's live chart
and drawing pad), with none of the dashboard's own code behind it. Each floor is served by its own
`streamlit run`, from the project root like the dashboard, and timed exactly as `page_load.py` times a page
(a new tab of a browser context that has already seen it, until the page is idle with its heading drawn); the
floors and the bare page are taken in turn, and the median of `--repeats` is printed. With `--dashboard RUNS`, the
dashboard's own pages (a store of RUNS runs owned by the measuring browser) join the same loop, each printed
beside the floor that holds what it shows.

    python benchmarks/page_floor.py                       # every floor, 7 repeats
    python benchmarks/page_floor.py --floors sidebar,live-chart --repeats 11
    python benchmarks/page_floor.py --floors lab-like,train-like,runs-like,draw-like,inspect-like --dashboard 30

Exit code 0 once it has measured, 1 if a server would not start or a page never became idle, 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from benchmarks import page_load  # noqa: E402
from benchmarks.arguments import names_of, ranged  # noqa: E402
from benchmarks.browser import in_chromium  # noqa: E402
from dashboard.static_files import STATIC  # noqa: E402

BARE = page_load.BARE_SCRIPT
PROJECT = f"import sys\nsys.path.insert(0, {str(ROOT)!r})\n"  # for the floors that use the dashboard's own elements
CURVE = ("import plotly.graph_objects as go\n"
         "figure = go.Figure([go.Scatter(x=list(range(60)), y=[1 - 0.5 ** (1 + step / 9) for step in range(60)],"
         " name='train'), go.Scatter(x=list(range(0, 60, 10)), y=[0.9, 0.95, 0.96, 0.97, 0.975, 0.98],"
         " name='test')])\n"
         "figure.update_layout(title='Accuracy', height=380)\n")

# name: (what it adds to the bare page, the page's script after the bare page's)
FLOORS = {
    "sidebar": (
        "every page's sidebar: the navigation to five pages, a toggle and a text box",
        "pages = [st.Page(lambda: None, title=title, url_path=title.lower(), default=title == 'Lab')\n"
        "         for title in ('Lab', 'Train', 'Runs', 'Draw', 'Inspect')]\n"
        "st.navigation(pages)\n"
        "st.sidebar.toggle('Presentation mode', help='Large text')\n"
        "st.sidebar.text_input('Your name (optional)', placeholder='Learner')\n"),
    "controls": (
        "Train's settings: a preset box, three expanders, 11 number boxes, 4 select boxes, a segmented control, "
        "a slider, 2 toggles, 2 buttons",
        "left, right = st.columns([1, 1])\n"
        "with left:\n"
        "    st.selectbox('Preset', ['softmax', 'five layers'], help='A network from the codelab')\n"
        "    st.caption('A one-layer network: about 92%.')\n"
        "    st.expander('Write or paste Keras code').caption('A keras.Sequential list, read, never run.')\n"
        "    with st.expander('Network', expanded=True):\n"
        "        st.segmented_control('Network type', ['Dense', 'Convolutional'], default='Dense')\n"
        "        st.number_input('Hidden dense layers', 0, 8, 4)\n"
        "        for column, units in zip(st.columns(4), (200, 100, 60, 30)):\n"
        "            column.number_input(f'Layer of {units}', 1, 1000, units)\n"
        "        st.selectbox('Activation', ['relu', 'sigmoid'])\n"
        "        st.slider('Dropout rate', 0.0, 0.9, 0.0)\n"
        "        st.toggle('Batch norm')\n"
        "    with st.expander('Training', expanded=True):\n"
        "        st.selectbox('Optimizer', ['Adam', 'SGD'])\n"
        "        for label in ('Learning rate', 'Batch size', 'Epochs', 'Training images', 'Seed', 'Decay'):\n"
        "            st.number_input(label, 0.0, 100000.0, 1.0)\n"
        "        st.selectbox('Learning-rate schedule', ['constant', 'exponential'])\n"
        "with right:\n"
        "    st.button('Train', type='primary')\n"
        "    st.button('Stop', disabled=True)\n"
        "    st.toggle('Show inside the network')\n"
        "    st.info('Press Train to start.')\n"),
    "table": (
        "Runs' table of 30 runs (selectable rows) and its compare box",
        "import pandas as pd\n"
        "rows = [{'name': f'run {index}', 'status': 'finished', 'test accuracy': 0.9, 'epochs': '2/2',\n"
        "         'preset': 'softmax', 'parameters': 7850, 'minutes': 0.1, 'device': 'CPU', 'run id': str(index)}\n"
        "        for index in range(30)]\n"
        "st.dataframe(pd.DataFrame(rows), hide_index=True, on_select='rerun', selection_mode='single-row')\n"
        "st.multiselect('Compare test curves of', [row['name'] for row in rows])\n"),
    "metrics": (
        "four metrics in columns, as Train shows above its charts",
        "for column, (label, value) in zip(st.columns(4), [('Test accuracy', '92.1%'), ('Test loss', '0.28'),\n"
        "                                                  ('Learning rate', '0.005'), ('Elapsed', '0:42')]):\n"
        "    column.metric(label, value)\n"),
    "st.plotly_chart": (
        "one chart drawn by Streamlit's own Plotly element (two line traces)",
        CURVE + "st.plotly_chart(figure)\n"),
    "live-chart": (
        "one of the dashboard's live charts (the same figure, plotly.js's basic bundle)",
        PROJECT + CURVE + "from dashboard.live_chart import live_chart\n"
        "live_chart(figure.to_json(), key='accuracy', height=380)\n"),
    "drawing-pad": (
        "the Draw page's drawing pad (streamlit-drawable-canvas)",
        PROJECT + "from dashboard.canvas_pad import st_canvas\n"
        "st_canvas(stroke_width=18, stroke_color='#000000', background_color='#FFFFFF', height=280, width=280,\n"
        "          drawing_mode='freedraw', key='canvas')\n"),
}
SECOND_CHART = "live_chart(figure.to_json(), key='loss', height=380)\n"
LAB = (  # the Lab's first step as it opens: what each part is, without the dashboard's code behind it
    "st.markdown('Follow the codelab one step at a time, from a single layer to a convolutional network past 99%.')\n"
    "with st.expander('Your progress: 0 of 12 steps trained', expanded=True):\n"
    "    st.markdown('\\n'.join(['| step | title | codelab | your best | runs |', '|--:|:--|--:|--:|--:|']\n"
    "                            + [f'| {step} | Step {step} | 92.0% | – | 0 |' for step in range(1, 14)]))\n"
    "left, middle, right = st.columns([3, 10, 3], vertical_alignment='bottom')\n"
    "left.button('Previous', disabled=True, width='stretch')\n"
    "middle.selectbox('Step', [f'{step}. Step {step}' for step in range(1, 14)])\n"
    "right.button('Next', width='stretch')\n"
    "st.header('Step 1: The data', anchor=False)\n"
    "theory, results = st.columns([1, 1], gap='large')\n"
    "theory.markdown('MNIST holds 70,000 handwritten digits, 28x28 pixels each, with their labels.')\n"
    "theory.markdown('**What to look for:** how varied the same digit is.')\n"
    "theory.info('**Think about it:** why keep test images apart?')\n"
    "theory.expander('Reveal the answer').markdown('To score the network on digits it has never seen.')\n"
    "with results:\n"
    "    from dashboard.sample_digits import samples_html\n"
    "    st.html(samples_html(12))\n"
    "    for column, label in zip(st.columns(3), ('Training images', 'Validation images', 'Test images')):\n"
    "        column.metric(label, '10,000', help='The default')\n"
    "    st.page_link(pages[3], label='Draw your own digit on the Draw page')\n")

# Whole pages' worth of the parts above, on one page: what the dashboard's pages hold once there are runs.
FLOORS["lab-like"] = ("sidebar + the Lab's first step (intro, progress table, step box, theory, sample digits, "
                      "metrics): what the Lab holds", FLOORS["sidebar"][1] + PROJECT + LAB)
FLOORS["train-like"] = ("sidebar + controls + metrics + two live charts: what Train holds with a run",
                        "".join(FLOORS[name][1] for name in ("sidebar", "controls", "metrics", "live-chart"))
                        + SECOND_CHART)
FLOORS["runs-like"] = ("sidebar + table + a live chart: what Runs holds with runs",
                       "".join(FLOORS[name][1] for name in ("sidebar", "table", "live-chart")))
DRAW = (  # Draw with a trained network, before anything is drawn
    "st.selectbox('Model', ['softmax (92.1%)', 'conv (99.0%)'], help='Every saved run with a model')\n"
    "pad, answer = st.columns(2)\n"
    "with pad:\n"
    "    st.caption('Draw one digit, large, inside the box.')\n"
    + "".join(f"    {line}\n" for line in FLOORS["drawing-pad"][1].splitlines()) +
    "    st.button('Clear')\n"
    "with answer:\n"
    "    st.info('Draw a digit on the left: the answer appears as you lift the pen.')\n"
    "    st.toggle(\"Every network's opinion\")\n"
    "st.subheader('My digits')\n"
    "st.caption('0 of at most 200 kept in this browser.')\n"
    "st.button('Fine-tune on my digits', disabled=True)\n")
FLOORS["draw-like"] = ("sidebar + a model box, the drawing pad and its button, a hint, a toggle and My digits: "
                       "what Draw holds with runs", FLOORS["sidebar"][1] + DRAW)
INSPECT = (  # Inspect with a run: numbers, pictures and six charts
    "from dashboard.sample_digits import samples_html\n"
    "for column, (label, value) in zip(st.columns(3), [('Test accuracy', '92.1%'), ('Mistakes', '790'),\n"
    "                                                  ('Hardest digit', '8')]):\n"
    "    column.metric(label, value)\n"
    "for index, title in enumerate(['Which digits get confused', 'Its most confident mistakes',\n"
    "                               'What the first layer learned', 'How the weights moved while it learned',\n"
    "                               'Layer by layer']):\n"
    "    st.subheader(title)\n"
    "    pictures, charts = st.columns(2)\n"
    "    pictures.html(samples_html(12))\n"
    "    with charts:\n"
    "        live_chart(figure.to_json(), key=f'chart_{index}', height=300)\n"
    "live_chart(figure.to_json(), key='chart_last', height=260)\n")
FLOORS["inspect-like"] = ("sidebar + three metrics, five sections of pictures and six live charts: what Inspect "
                          "holds with a run", FLOORS["sidebar"][1] + FLOORS["live-chart"][1] + INSPECT)


# Each dashboard page beside the floor that holds what it shows once there are runs (`--dashboard`).
LIKE = {"Lab": "lab-like", "Train": "train-like", "Runs": "runs-like", "Draw": "draw-like", "Inspect": "inspect-like"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=ranged(1, 50), default=7,
                        help="loads of each floor and of the bare page; the median is printed (default 7)")
    parser.add_argument("--floors", type=names_of(FLOORS), default=list(FLOORS),
                        help=f"floors to measure, comma-separated (default {','.join(FLOORS)})")
    parser.add_argument("--dashboard", type=ranged(0, 500), default=0, metavar="RUNS",
                        help="also measure the dashboard's pages, in the same loop, with a store of RUNS runs "
                             "owned by the measuring browser, each beside its *-like floor (default 0: not)")
    return parser.parse_args(argv)


def script(name: str) -> str:
    """The floor's page: the bare page's title and line of text, then the floor's content."""
    return BARE + FLOORS[name][1]


def measure(browser, targets: dict[str, tuple[page_load.Server, str, str]], repeats: int) -> dict[str, float]:
    """Median seconds of `repeats` loads of each target (server, path, heading), the targets taken in turn, each
    in a browser context of its own that has loaded it once already."""
    contexts = {name: page_load.new_context(browser, server.url) for name, (server, _, _) in targets.items()}
    for name, (server, path, heading) in targets.items():  # fills the browser's cache and the server's caches
        page_load.timed_load(contexts[name], server.url + path, heading)
    seconds: dict[str, list[float]] = {name: [] for name in targets}
    for _ in range(repeats):
        for name, (server, path, heading) in targets.items():
            seconds[name].append(page_load.timed_load(contexts[name], server.url + path, heading))
    for context in contexts.values():
        context.close()
    return {name: statistics.median(values) for name, values in seconds.items()}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="mnist-page-floor-"))
    # Streamlit serves static files from the folder of the script it runs: the live chart loads plotly.js there.
    (folder / "static").symlink_to(STATIC, target_is_directory=True)
    if args.dashboard:
        from dashboard.identity import owner_of

        print(f"training one softmax run and copying it {args.dashboard} times ...", flush=True)
        page_load.fill_store(folder / "dashboard" / "runs", args.dashboard, owner_of(page_load.IDENTITY))

    def measure_all(browser) -> dict[str, float]:
        servers: list[page_load.Server] = []
        targets: dict[str, tuple[page_load.Server, str, str]] = {}
        try:
            servers.append(page_load.start_bare(folder))
            targets[page_load.BARE] = (servers[-1], "", page_load.BARE_HEADING)
            for name in args.floors:
                servers.append(page_load.start_page(folder, f"floor_{name.replace('.', '_')}.py", script(name)))
                targets[name] = (servers[-1], "", page_load.BARE_HEADING)
            if args.dashboard:
                servers.append(page_load.start_dashboard(folder / "dashboard"))
                targets.update({name: (servers[-1], *page_load.PAGES[name]) for name in page_load.PAGES})
            return measure(browser, targets, args.repeats)
        finally:
            for server in servers:
                server.stop()

    medians = in_chromium(measure_all, folder)
    if medians is None:
        return 1
    report(medians, args)
    return 0


def report(medians: dict[str, float], args: argparse.Namespace) -> None:
    bare = medians[page_load.BARE]
    print(f"\nseconds from a new tab to the page idle with its heading drawn (median of {args.repeats})")
    print(f"{'page':<17}{'warm s':>8}{'ratio':>8}  what it adds to the bare page")
    print(f"{page_load.BARE:<17}{bare:8.2f}{'1.00x':>8}  (a title and a line of text)")
    for name in args.floors:
        print(f"{name:<17}{medians[name]:8.2f}{page_load.ratio(medians[name], bare):>8}  {FLOORS[name][0]}")
    if not args.dashboard:
        return
    print(f"\nthe dashboard's pages ({args.dashboard} runs) beside the Streamlit-only pages holding the same")
    print(f"{'page':<9}{'warm s':>8}{'ratio':>8}  {'floor':<14}{'floor s':>8}{'ratio':>8}{'page / floor':>14}")
    for name, like in LIKE.items():
        floor = medians.get(like)
        floor_text = (f"{floor:8.2f}{page_load.ratio(floor, bare):>8}{page_load.ratio(medians[name], floor):>14}"
                      if floor is not None else f"{'–':>8}{'–':>8}{'–':>14}")
        print(f"{name:<9}{medians[name]:8.2f}{page_load.ratio(medians[name], bare):>8}  {like:<14}{floor_text}")


if __name__ == "__main__":
    sys.exit(main())
