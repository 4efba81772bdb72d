"""`make report`: the ideas behind the models, measured on our own runs and pictured.

make report                     # all five sections, reduced training budgets; see README for the runtime
make report PRESET=tiny         # seconds per section; smoke test (numbers near chance, said so)
python -m pipelines.report --sections 2,4 --runs-dir /tmp/runs

Each section is one claim, the measurement that tests it and its picture:

1. convolution finds local patterns, deeper layers combine them (filters, feature maps);
2. pooling makes the model less sensitive to position (accuracy against shift, pooling vs strided convs);
3. an RNN carries memory, LSTM/GRU keep it over long distances (``pipelines.compare_rnn``);
4. GRU is lighter than LSTM (parameters and step times at the same width, text and video models);
5. CNN per frame + RNN across frames understands motion (hybrid vs frame-only, a long-video timeline).

Every experiment is an ordinary run of a pipeline (``runs/image/<ts>``, ``runs/compare_rnn/<ts>``,
``runs/video/<ts>``) or a measurement folder of its own (``runs/position/<ts>``, ``runs/gru_vs_lstm/<ts>``),
linked from the report. The report goes to ``runs/report/<timestamp>/`` (``index.html``, ``report.md``,
``figures/``, ``report.json``); ``runs/report/index.html`` and ``report.md`` are copies that point at the
latest. Nothing is exported to ``export/``: the report trains with reduced budgets, and its models
should not replace the ones being served.

When Chromium is installed, the pages are then opened in it headless without network
(:mod:`pipelines.report.browser_check`): every figure must load, every heading be there and nothing
be fetched from the network, or the command fails. A section whose experiment crashes is written as
such on the page, and the command then fails too (exit 1, one line per section naming its error):
an experiment that crashes is not an inconclusive one.
"""
