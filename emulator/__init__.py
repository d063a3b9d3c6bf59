"""A local, wire-compatible Alibaba Cloud KMS (plus the Secrets Manager and CloudMonitor calls
the renewer makes), for tests and demos. Layers: ``server``/``protocol`` (routing, signatures,
error envelope), ``responses`` (wire parameters <-> backend calls), ``backend`` (state and every
invariant)."""
