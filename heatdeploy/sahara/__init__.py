"""A way in for Sahara users: its templates and sahara-tests scenarios as heatdeploy specs, and scenario runs.

``importer`` reads and converts files (``sources`` reads them, ``templates``
and ``scenario`` understand their shapes, ``convert`` and ``mapping`` make
specs of them); ``runner`` runs a scenario's flow on a cloud through the
same library calls as ``launch``, ``job run``, ``scale`` and ``delete``;
``junit`` writes its results for CI.
"""
