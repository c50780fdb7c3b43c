"""OpenStack, as heatdeploy uses it: authentication and trusts, stacks, records, Swift and temp URLs.

:class:`~heatdeploy.cloud.project.Project` bundles them for one session, so
the lifecycle can be handed an in-memory fake instead
(:class:`heatdeploy.testing.FakeCloud`).
"""

import os

REQUEST_TIMEOUT = float(os.environ.get("HEATDEPLOY_REQUEST_TIMEOUT") or 60)
"""Seconds any one request to Keystone, Heat or Swift may take (``HEATDEPLOY_REQUEST_TIMEOUT``):
a hung endpoint is an error, not a hang."""
