"""Reaching instances: persistent SSH connections, batched writes, OpenSSH command lines, and keys."""
