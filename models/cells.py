"""The recurrent cells each model offers, readable without TensorFlow (the configs check them first)."""

TEXT_CELLS = ("gru", "lstm", "simple_rnn")  # models.text_rnn: SimpleRNN for comparison
GENERATOR_CELLS = ("gru", "lstm")  # models.char_rnn
VIDEO_CELLS = ("lstm", "gru")  # models.video_cnn_rnn
