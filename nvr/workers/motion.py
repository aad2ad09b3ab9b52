"""Motion detection on the decoded sub stream (OpenCV), with zones, masks and hysteresis.

Pipeline per analysed frame: grey (the Y plane), downscale, blur, difference against a
running average of the background, threshold, dilate, contours; areas outside the zones
or inside the masks are ignored; contours under `min_area` are noise. Motion starts after
`start_frames` consecutive frames with motion and ends after `end_s` seconds without any.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import msgspec
import numpy as np

from nvr.domain.events import Event, MotionEnded, MotionStarted
from nvr.domain.values import Box, Zone

NS = 1_000_000_000


class MotionParams(msgspec.Struct, frozen=True, kw_only=True):
    width: int = 320
    """Analysis width in pixels; the height keeps the aspect ratio."""
    pixel_threshold: int = 25
    """Grey-level difference from the background that counts as change (0-255)."""
    min_area: float = 0.002
    """Smallest moving region, as a fraction of the picture."""
    alpha: float = 0.5
    """Weight of a new frame in the running background average. High, so the trail an
    object leaves fades within a few analysed frames and motion ends on time."""
    start_frames: int = 2
    end_s: float = 2.0
    zones: tuple[Zone, ...] = ()
    """Where to look (empty: everywhere)."""
    masks: tuple[Zone, ...] = ()
    """Where never to look (trees, roads, timestamps burnt into the picture)."""


class MotionDetector:
    """Feed it grey frames in time order; it returns the motion events they cause.

    Invariants: events alternate started/ended per motion id; `boxes` are normalised."""

    def __init__(self, camera_id: str, params: MotionParams) -> None:
        self.camera_id, self.p = camera_id, params
        self._background: np.ndarray | None = None
        self._mask: np.ndarray | None = None
        self._kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
        self._streak = 0
        self._active: str | None = None
        self._last_motion_ns = 0
        self._peak = 0.0
        self._count = 0
        self.last_fraction = 0.0

    def feed(self, grey: np.ndarray, wall_ns: int) -> list[Event]:
        small = self._prepare(grey)
        if self._background is None:
            self._background = small.astype(np.float32)
            return []
        diff = cv2.absdiff(small, cv2.convertScaleAbs(self._background))
        cv2.accumulateWeighted(small, self._background, self.p.alpha)
        _, binary = cv2.threshold(diff, self.p.pixel_threshold, 255, cv2.THRESH_BINARY)
        if self._mask is not None:
            binary = cv2.bitwise_and(binary, self._mask)
        binary = cv2.dilate(binary, self._kernel, iterations=2)
        contours, _ = cv2.findContours(binary, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        h, w = small.shape
        area = float(w * h)
        boxes: list[Box] = []
        moving = 0.0
        for contour in contours:
            a = cv2.contourArea(contour)
            if a / area < self.p.min_area:
                continue
            x, y, bw, bh = cv2.boundingRect(contour)
            boxes.append(Box(x=x / w, y=y / h, w=bw / w, h=bh / h))
            moving += a
        fraction = moving / area
        self.last_fraction = fraction
        return self._hysteresis(bool(boxes), fraction, tuple(boxes), wall_ns)

    def _prepare(self, grey: np.ndarray) -> np.ndarray:
        h, w = grey.shape[:2]
        size = (self.p.width, max(1, round(h * self.p.width / w)))
        small = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
        small = cv2.GaussianBlur(small, (5, 5), 0)
        if self._mask is None and (self.p.zones or self.p.masks):
            self._mask = build_mask(size, self.p.zones, self.p.masks)
        return small

    def _hysteresis(
        self, moving: bool, fraction: float, boxes: tuple[Box, ...], now: int
    ) -> list[Event]:
        confidence = min(1.0, fraction / (4 * self.p.min_area)) if moving else 0.0
        if moving:
            self._streak += 1
            self._last_motion_ns = now
        else:
            self._streak = 0
        if self._active is None:
            if self._streak >= self.p.start_frames:
                self._count += 1
                self._active = f"{self.camera_id}-{now}"
                self._peak = confidence
                return [MotionStarted(camera_id=self.camera_id, motion_id=self._active, at_ns=now,
                                      confidence=confidence, boxes=boxes)]  # fmt: skip
            return []
        self._peak = max(self._peak, confidence)
        if not moving and now - self._last_motion_ns >= int(self.p.end_s * NS):
            ended = MotionEnded(camera_id=self.camera_id, motion_id=self._active,
                                at_ns=self._last_motion_ns, peak_confidence=self._peak)  # fmt: skip
            self._active = None
            return [ended]
        return []

    @property
    def active(self) -> bool:
        return self._active is not None


def build_mask(size: tuple[int, int], zones: Sequence[Zone], masks: Sequence[Zone]) -> np.ndarray:
    """255 where motion counts: inside a zone (or anywhere without zones), outside masks."""
    w, h = size
    mask = np.zeros((h, w), np.uint8) if zones else np.full((h, w), 255, np.uint8)

    def poly(zone: Zone) -> np.ndarray:
        return np.array(
            [[round(x * (w - 1)), round(y * (h - 1))] for x, y in zone.points], np.int32
        )

    for zone in zones:
        cv2.fillPoly(mask, [poly(zone)], 255)
    for zone in masks:
        cv2.fillPoly(mask, [poly(zone)], 0)
    return mask
