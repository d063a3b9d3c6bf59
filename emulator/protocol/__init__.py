"""The wire protocol: request decoding and rendering (``rpc``), signature checks (``signing``)
and the replay guard they share (``nonces``). Nothing here knows about keys or secrets: the
backend is reached only through :meth:`emulator.core.Emulator.dispatch`."""
