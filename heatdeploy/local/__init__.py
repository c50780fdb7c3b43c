"""The local cloud: real Keystone, Heat and Swift on loopback, plus local instances.

`heatdeploy local up|status|down` (see heatdeploy.local.cli); the functions
behind it are in heatdeploy.local.lifecycle.
"""
