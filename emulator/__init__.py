"""A local, wire-compatible Alibaba Cloud KMS (plus the Secrets Manager and CloudMonitor calls
the function makes), for tests and demos. Layers: ``server``/``protocol`` (routing, signatures,
error envelope), ``responses`` (wire parameters <-> backend calls), ``backend`` (state and every
invariant).

It obeys only its operator: the admin API needs the token printed at start
(``X-Emulator-Admin-Token``, :mod:`emulator.admin_access`), and Function Compute runs only the code
declared with ``--function`` (:mod:`emulator.functions`), imported only to run an invocation."""
