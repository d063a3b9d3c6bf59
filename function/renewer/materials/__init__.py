"""Material sources (secrets, files, environment, PKCS#11) and the wrapping of material."""
