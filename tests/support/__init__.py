"""Test helpers shared by every tier."""

# seconds: the deadline of a wait for a condition that holds within a second on a quiet machine.
# Generous, so that a machine loaded several times over slows the tests down but doesn't fail
# them; a test that passes never waits for it.
WAIT = 60.0
