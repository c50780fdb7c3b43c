"""The hooks heatdeploy plugins implement.

A plugin is a module (or object) with functions named after these hooks and
decorated with :data:`heatdeploy.hookimpl`; it is found through the
``heatdeploy`` entry point group.  Implement only the hooks you need.  Every
hook is called with keyword arguments, and pluggy lets an implementation
accept any subset of them.

Framework plugins register a :class:`~heatdeploy.Framework`;
add-ons (a monitoring agent, an extra resource in every stack) implement the
other hooks.  Each hook that takes ``framework`` is called for every cluster,
whatever its framework: check ``framework.name`` if you only serve one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from heatdeploy.plugin.framework import Framework, Operation
    from heatdeploy.plugin.jobs import JobEngine
    from heatdeploy.plugin.steps import Step
    from heatdeploy.plugin.template_parts import SecurityRule, TemplatePart, UserDataPart
    from heatdeploy.spec.model import ClusterSpec, NodeGroup
    from heatdeploy.spec.problems import Problem

hookspec = pluggy.HookspecMarker("heatdeploy")


@hookspec(historic=True)
def heatdeploy_register_frameworks(register: Callable[[Framework], None]) -> None:
    """Register the frameworks this plugin provides.

    Call ``register(framework)`` once per :class:`~heatdeploy.Framework`.
    A framework name may be registered only once; a second registration is
    reported as a load error of the later plugin. A historic hook: pluggy
    calls each plugin's implementation as that plugin is registered.

    :param register: callable taking a ``Framework``.
    """


@hookspec
def heatdeploy_validate_cluster(spec: ClusterSpec, framework: Framework) -> Iterable[Problem] | None:
    """Check a cluster spec beyond the framework's own topology rules.

    Called after the spec passed its own rules and the framework's. Return
    (or yield) :class:`~heatdeploy.Problem` objects whose ``path``
    names the offending field, such as ``node_groups[0].configs``; heatdeploy
    adds the file and line.

    :param spec: the cluster spec, with node group defaults filled in.
    :param framework: the spec's framework.
    """


@hookspec
def heatdeploy_security_group_rules(
    spec: ClusterSpec, node_group: NodeGroup, framework: Framework
) -> Iterable[SecurityRule] | None:
    """Extra ingress rules for a node group's automatic security group.

    Only called for node groups with ``auto_security_group: true``. ICMP and
    the framework's declared ports are already open between the cluster's
    instances, and so are SSH (to the spec's ``ssh_cidrs``), ICMP and the
    framework's ports (to its ``access_cidrs``) and the framework's
    ``public_ports`` (to everyone).

    :param spec: the cluster spec.
    :param node_group: the group whose security group is being rendered.
    :param framework: the spec's framework.
    """


@hookspec
def heatdeploy_user_data(
    spec: ClusterSpec, node_group: NodeGroup, framework: Framework
) -> UserDataPart | None:
    """Files and commands for the first boot of every instance of a node group.

    Runs before the instance reports to heatdeploy, so keep it short and
    independent of other instances: cluster membership is never known at
    boot (it would force servers to be replaced on every scale). Prefer
    configuration steps for anything that needs the other instances.

    :param spec: the cluster spec.
    :param node_group: the group whose user data is being rendered.
    :param framework: the spec's framework.
    """


@hookspec
def heatdeploy_template_parts(spec: ClusterSpec, framework: Framework) -> TemplatePart | None:
    """Parameters, resources and outputs to add to the cluster's main template.

    Values are plain HOT data (dicts, lists, strings); heatdeploy serialises
    them safely. Names must not clash with heatdeploy's resources (node group
    names, ``<group>-security-group``, ``cluster-internal``, ``anti-affinity``)
    or another plugin's.

    :param spec: the cluster spec.
    :param framework: the spec's framework.
    """


@hookspec
def heatdeploy_cluster_steps(spec: ClusterSpec, framework: Framework, operation: Operation) -> Iterable[Step] | None:
    """Extra configuration steps for ``operation`` on every cluster.

    ``operation`` is ``launch``, ``scale_up`` or ``decommission``. Steps run
    in the same DAG as heatdeploy's common steps (``ssh``, ``image``,
    ``hosts``, ``volumes``) and the framework's: name those in ``after`` to
    order yours (the common steps do not run for ``decommission``); every
    step follows ``image`` whatever its ``after`` says. Step names must be
    unique across plugins: prefix yours with your plugin's name. Every step
    must be safe to run again.

    :param spec: the cluster spec.
    :param framework: the spec's framework.
    :param operation: what is being done to the cluster.
    """


@hookspec(firstresult=True)
def heatdeploy_job_engine(framework: Framework) -> JobEngine | None:
    """The job engine that runs jobs on clusters of ``framework``.

    Return an object with the :class:`~heatdeploy.JobEngine` methods
    (``types``, ``driver``, ``start``, ``status``, ``logs``, ``cancel``), or
    ``None`` for frameworks you do not serve. The first engine returned wins,
    so an add-on can also bring jobs to a framework whose plugin has none.

    :param framework: the cluster's framework.
    """
