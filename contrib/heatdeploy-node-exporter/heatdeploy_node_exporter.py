"""heatdeploy add-on: a Prometheus node exporter on every instance.

An example of a plugin that is not a framework: it adds a user-data part,
a security group rule, a validation rule and a template output to every
cluster, whatever its framework.
"""

from __future__ import annotations

from collections.abc import Iterator

from heatdeploy import File, Problem, SecurityRule, TemplatePart, UserDataPart, hookimpl

PORT = 9100
# Scrapes come from the monitoring network only, never from everywhere.
MONITORING_CIDR = "10.0.0.0/8"
DEFAULTS = f"# Written by heatdeploy-node-exporter\nARGS=\"--web.listen-address=:{PORT}\"\n"


@hookimpl
def heatdeploy_user_data(spec, node_group, framework) -> UserDataPart:
    return UserDataPart(
        files=(File("/etc/default/prometheus-node-exporter", DEFAULTS),),
        commands=(("systemctl", "enable", "--now", "prometheus-node-exporter"),),
    )


@hookimpl
def heatdeploy_security_group_rules(spec, node_group, framework) -> list[SecurityRule]:
    return [SecurityRule("tcp", PORT, remote_ip_prefix=MONITORING_CIDR)]


@hookimpl
def heatdeploy_validate_cluster(spec, framework) -> Iterator[Problem]:
    for i, group in enumerate(spec.node_groups):
        if group.count and not group.auto_security_group and not group.security_groups:
            yield Problem(f"node_groups[{i}].auto_security_group",
                          f"node exporter port {PORT} cannot be opened: enable auto_security_group "
                          "or name a security group that allows it")


@hookimpl
def heatdeploy_template_parts(spec, framework) -> TemplatePart:
    return TemplatePart(outputs={
        "node_exporter_port": {"description": "Port every instance's node exporter listens on.",
                               "value": PORT},
    })
