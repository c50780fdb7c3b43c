"""From a validated spec to Heat (HOT): the renderer, first-boot user data, and the Jinja2 templates.

The templates live in ``heatdeploy/templates/``. Rendering is pure: no
network, and the same spec gives byte-identical output.
"""
