"""One exception family, so every CLI can turn a failure into one line and an exit code."""


class EdgeSightError(Exception):
    """A problem the user can fix; the message says what and how."""


class BundleError(EdgeSightError):
    """A bundle or its manifest is missing, malformed, or does not match its files."""


class ModelLoadError(EdgeSightError):
    """A model file could not be loaded by the chosen backend."""


class InferenceError(EdgeSightError):
    """The runtime accepted the model but could not run it (a delegate failed to prepare, bad tensors)."""


class SourceError(EdgeSightError):
    """An image, folder or video could not be read."""


class BackendUnavailable(EdgeSightError):
    """The runtime library a backend needs is not installed on this machine."""
