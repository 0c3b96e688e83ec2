"""DeepDream (seed 002): what a model's layers respond to; `edge-dream` is the command."""
