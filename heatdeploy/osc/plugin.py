"""What python-openstackclient asks of a plugin: the API's name and versions, its client, its global options.

OSC adds the commands of entry point group ``openstack.heatdeploy.v1`` and
builds the client (:func:`make_client`) from its own cloud configuration and
session, so ``--os-cloud``, the ``OS_*`` variables and the TLS options work
as for every ``openstack`` command.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from typing import Any

from heatdeploy.cloud.auth import TRUSTEE_ENV, TRUSTEE_KEY, Cloud, cloud_of

API_NAME = "heatdeploy"
API_VERSION_OPTION = "os_heatdeploy_api_version"
DEFAULT_API_VERSION = "1"
API_VERSIONS = ("1",)
"""heatdeploy is a library, not a service: the version only names the command group (``openstack.heatdeploy.v1``)."""


@dataclass(frozen=True)
class Client:
    """What the commands need from OSC: the user's cloud, as heatdeploy's own command line loads it."""

    cloud: Cloud


def make_client(instance: Any) -> Client:
    """heatdeploy's client from OSC's client manager: its cloud entry (region, TLS settings) and session."""
    region = instance._cli_options  # the CloudRegion OSC loaded; osc-lib offers no public accessor
    return Client(cloud_of(region, instance.session, region.config.get(TRUSTEE_KEY)))


def build_option_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """heatdeploy's global options of the ``openstack`` command."""
    parser.add_argument("--os-heatdeploy-api-version", metavar="<version>",
                        default=os.environ.get("OS_HEATDEPLOY_API_VERSION", DEFAULT_API_VERSION),
                        help=f"heatdeploy command set (default: {DEFAULT_API_VERSION}; env: OS_HEATDEPLOY_API_VERSION)")
    # OSC merges --os-* options into the cloud entry, so this one lands where the
    # entry's own heatdeploy_trustee_cloud key is read, and wins over it.
    parser.add_argument("--os-heatdeploy-trustee-cloud", metavar="<cloud>", default=os.environ.get(TRUSTEE_ENV),
                        help="clouds.yaml entry of heatdeploy's trustee: enables trust mode for cluster launch "
                             f"(env: {TRUSTEE_ENV}; default: the cloud entry's {TRUSTEE_KEY} key)")
    return parser
