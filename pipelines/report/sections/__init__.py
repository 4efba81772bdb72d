"""The five experiments of the report; each trains through the pipelines' own functions and returns a Section.

Every section function takes the report config, the runs root and the report's ``figures/`` folder, and
fills a :class:`~pipelines.report.content.Section` with its numbers, figures and run folders.

- ``convolution``: section 1, first-layer filters, feature maps and receptive fields of the image CNN.
- ``pooling``: section 2, max pooling against strided convolutions on shapes moved off-centre.
- ``memory``: section 3, SimpleRNN, LSTM and GRU over growing distances (pipelines.compare_rnn).
- ``gru_vs_lstm``: section 4, parameters and interleaved step times of GRU and LSTM at the same width.
- ``motion``: section 5, the video CNN+RNN against a frame-only CNN, per class and on a long video.
- ``common``: helpers two or more sections share (run folders, metrics, captions, verdict margins).
"""

from __future__ import annotations

from pipelines.report.sections import convolution, gru_vs_lstm, memory, motion, pooling

RUNNERS = {
    1: convolution.convolution,
    2: pooling.pooling,
    3: memory.memory,
    4: gru_vs_lstm.gru_vs_lstm,
    5: motion.motion,
}
