"""Device provisioning for Pi and Jetson kiosks (profiles, cloud-init, systemd units, Ansible).

The profiles and the `edge-flash` renderer arrive with the firmware issue; this package exists so the
top-level layout the product brief fixes is importable from the first release.
"""
