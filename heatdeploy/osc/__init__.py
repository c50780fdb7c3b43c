"""The ``openstack heatdeploy ...`` commands: a python-openstackclient plugin.

``plugin`` is what OSC loads (entry point ``openstack.cli.extension``:
``heatdeploy``); ``commands`` are the cliff commands (entry points
``openstack.heatdeploy.v1``), each running the ``heatdeploy`` command's own
handler on the cloud session OSC already holds.
"""
