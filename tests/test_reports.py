"""The PNG reports are written from a built warehouse."""

from __future__ import annotations

import struct

import pytest

from cc_segmentation.apps.reports import write_reports

pytestmark = pytest.mark.slow


def png_size(path):
    """Width and height from a PNG's IHDR chunk."""
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", header[16:24])


def test_reports_are_written_for_the_real_build(real_build, tmp_path):
    paths = write_reports(real_build.warehouse, tmp_path / "reports")
    assert sorted(p.name for p in paths) == [
        "k_selection.png",
        "pca_map.png",
        "segment_profiles.png",
        "segment_sizes.png",
    ]
    for path in paths:
        width, height = png_size(path)
        assert width >= 800 and height >= 300
        assert path.stat().st_size > 20_000  # a real picture, not an empty canvas
