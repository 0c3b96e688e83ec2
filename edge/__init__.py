"""EdgeSight on-device runtime. Never imports TensorFlow or Keras."""

__version__ = "0.1.0"
