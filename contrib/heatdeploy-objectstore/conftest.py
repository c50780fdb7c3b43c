# Lets the tests import heatdeploy_dask from this folder when the package is not installed
# (pytest puts a conftest's folder on sys.path).
