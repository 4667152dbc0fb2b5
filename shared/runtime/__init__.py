"""The runtime beside the contract: the ZeroMQ bus and the Service skeleton every stage runs
on (bus), tracing spans (tracing), and the packaged model files (models). Services import
this and the contract (shared/*.py), nothing of `pippin/`."""
