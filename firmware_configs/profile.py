"""Device profiles: one YAML per target, validated by pydantic (unknown keys rejected, errors with their line).

Secrets never live in a profile: Wi-Fi takes the *name* of an environment variable holding the PSK,
read only when rendering.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from edge.kiosk.config import ConfigError, KioskConfig, load_yaml_model
from edge.strict import StrictModel

PROFILES_DIR = Path(__file__).parent / "profiles"


class Camera(StrictModel):
    kind: Literal["csi", "usb"] = "csi"
    rotation: Literal[0, 90, 180, 270] = Field(0, description="how the camera is mounted: frames are turned "
                                               "clockwise by this before detection (the kiosk's `rotate`)")
    index: int = Field(0, ge=0)


class Display(StrictModel):
    enabled: bool = True
    rotate: Literal[0, 90, 180, 270] = 0


class Network(StrictModel):
    wifi_ssid: str | None = None
    wifi_psk_env: str | None = Field(None, description="name of the environment variable with the PSK")
    country: str = Field("GB", min_length=2, max_length=2)


class User(StrictModel):
    name: str = Field("edgesight", pattern=r"^[a-z_][a-z0-9_-]{0,31}$")
    ssh_keys: list[str] = Field(default_factory=list)


class Install(StrictModel):
    """How first boot gets the software. `wheelhouse` (the default) needs no network: edge-flash puts the
    project's wheel, every dependency built for the board and the kiosk's model files on the card. `index`
    runs `pip install PACKAGE` on the device, for users who publish their own package to an index they trust."""

    source: Literal["wheelhouse", "index"] = "wheelhouse"
    package: str = Field("edgesight[pi]", min_length=1, description="pip requirement; with a wheelhouse: edgesight "
                         "with the extras to bundle")
    index_url: str | None = Field(None, description="source index only: pip's --index-url")


class Profile(StrictModel):
    board: Literal["rpi4", "rpi5", "rpi-zero2w", "jetson-orin-nano"]
    hostname: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    camera: Camera = Camera()
    display: Display = Display()
    network: Network = Network()
    user: User = User()
    accelerator: Literal["none", "coral-usb"] = "none"
    install: Install = Install()
    venv: str = "/opt/edgesight"
    gpu_mem: int = Field(128, ge=16, le=512)
    nvpmodel: int = Field(0, ge=0, le=8, description="Jetson power mode (0 = the board's maximum)")
    kiosk: KioskConfig = KioskConfig()

    @model_validator(mode="after")
    def _one_rotation(self) -> Profile:
        if self.kiosk.rotate not in (0, self.camera.rotation):
            raise ValueError(f"kiosk.rotate ({self.kiosk.rotate}) and camera.rotation ({self.camera.rotation}) "
                             "disagree: set camera.rotation only")
        return self

    @model_validator(mode="before")
    @classmethod
    def _legacy_package(cls, data):
        """Profiles from before `install` had a top-level `package`, installed from the index: they still are."""
        if isinstance(data, dict) and "package" in data and "install" not in data:
            data = {**data, "install": {"source": "index", "package": data["package"]}}
            del data["package"]
        return data


def load_profile(ref: str | Path) -> Profile:
    """A path, or the name of a shipped profile (rpi4-kiosk, rpi5-kiosk, rpi-zero2w-headless, jetson-orin-nano)."""
    path = Path(ref)
    if not path.is_file():
        candidate = PROFILES_DIR / f"{ref}.yaml"
        if not candidate.is_file():
            shipped = ", ".join(sorted(p.stem for p in PROFILES_DIR.glob("*.yaml")))
            raise ConfigError(f"{ref}: no such profile file or shipped profile ({shipped})")
        path = candidate
    return load_yaml_model(path, Profile)
