"""The dependency container and the start/stop sequence of a backend."""
