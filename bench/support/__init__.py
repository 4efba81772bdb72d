"""What the benchmarks measure with and the tests reuse: stage costs, an MJPEG stream on loopback,
FFmpeg's reference transcoder, a peak-memory launcher. Not benchmarks themselves."""
