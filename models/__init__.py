"""Pure model code: ``build_<name>(config) -> keras.Model``; no I/O, no tf.data."""
