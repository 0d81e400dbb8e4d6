"""The public contract shared by every service: topics, command items, results, event names.

Nothing in this package performs I/O. Changing a name or a field here changes the interface
that organisers and the services depend on: add, never rename, without a new version.
"""
