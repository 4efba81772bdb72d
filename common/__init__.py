"""The common base: user errors, command-line plumbing, typed configs, the quiet TensorFlow import,
file formats, figures and the headless-browser check. Every package may import it; it imports
nothing of the project."""
