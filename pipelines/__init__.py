"""Data and orchestration: datasets, and one entry module per pipeline (image, text, video)."""
