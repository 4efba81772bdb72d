"""Pure model code: ``build_<name>(config) -> keras.Model`` from a typed model config; no I/O, no
tf.data. Imports nothing of the project but itself."""
