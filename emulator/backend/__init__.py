"""The emulator's state and every invariant of the service, independent of the wire."""
