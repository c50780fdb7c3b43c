"""OpenStack, as heatdeploy uses it: authentication and trusts, stacks, records, Swift and temp URLs.

:class:`~heatdeploy.cloud.project.Project` bundles them for one session, so
the lifecycle can be handed an in-memory fake instead
(:class:`heatdeploy.testing.FakeCloud`).
"""
