"""Device provisioning: YAML profiles per board, rendered by `edge-flash` into cloud-init, config.txt and a
hardened, watchdog-supervised systemd unit for the kiosk."""
