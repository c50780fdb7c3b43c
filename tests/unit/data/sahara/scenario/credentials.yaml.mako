<%page args="network_public_name='public'"/>

network:
  type: neutron
  private_network: '${network_private_name}'
  public_network: '${network_public_name}'
