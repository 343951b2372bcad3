"""Process entrypoints: the `callwright` CLI and the embedded development stack."""
