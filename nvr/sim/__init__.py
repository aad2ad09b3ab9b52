"""Simulated IP cameras: clips made once with ffmpeg, served over RTSP by GStreamer."""
