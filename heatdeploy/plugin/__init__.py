"""What plugins see and implement: hooks, frameworks, steps, health checks, job engines, remotes.

Also the plugin manager (:mod:`heatdeploy.plugin.manager`), which loads
plugins and calls their hooks through pluggy, and the framework layer of
spec validation. Plugin authors import these names from :mod:`heatdeploy`.
"""
