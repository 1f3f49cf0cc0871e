"""Reliability suite: crashes, full disks, hostile files, input and networks (issue 7)."""
