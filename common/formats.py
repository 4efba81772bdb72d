"""The file formats the project reads, by extension (lower case, with the dot)."""

# Photos: what OpenCV decodes (image datasets, classify-image).
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
# Videos: what FFmpeg (through PyAV and OpenCV) decodes; video datasets and classify-video folders alike.
VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv", ".ts", ".3gp")
# Text: what the text folder and corpus sources read (UTF-8).
TEXT_EXTENSIONS = (".txt",)
