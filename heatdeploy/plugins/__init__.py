"""Framework plugins shipped with heatdeploy, registered through entry points like any other."""
