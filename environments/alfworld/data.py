"""The 4,027 ALFWorld games shipped in this package, unpacked once into a cache directory.

The archive (6.6 MB, `data/alfworld_json_2.1.3_tw-pddl.tar.xz`, licenses beside it) unpacks to about
376 MB, too large to keep in the repository unpacked, so the first run extracts it into
`~/.cache/agentrl/alfworld` (or `$AGENTRL_ALFWORLD_DIR`, or the `data_dir` parameter). A directory that
already holds `json_2.1.1/` (for example ALFWorld's own `$ALFWORLD_DATA`) is used as it is. Nothing is
downloaded: ALFWorld's `alfworld-download` is never needed.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

ARCHIVE = Path(__file__).parent / "data" / "alfworld_json_2.1.3_tw-pddl.tar.xz"
GAMES_FOLDER = "json_2.1.1"
COMPLETE_MARKER = ".agentrl-extracted"
DATA_DIR_VARIABLE = "AGENTRL_ALFWORLD_DIR"
SPLITS = ("train", "valid_seen", "valid_unseen", "valid_train")

TASK_TYPES = {
    "pick_and_place_simple": "pick",
    "look_at_obj_in_light": "look",
    "pick_clean_then_place_in_recep": "clean",
    "pick_heat_then_place_in_recep": "heat",
    "pick_cool_then_place_in_recep": "cool",
    "pick_two_obj_and_place": "pick_two",
}
"""ALFRED's task families under the short names results are reported in (the GiGPO paper's columns)."""


@dataclass(frozen=True)
class GameRef:
    """One game file and what its directory name says about it."""

    split: str
    path: Path
    task_type: str

    @property
    def game_id(self) -> str:
        """`<task directory>/<trial>`: unique across the data set, stable across machines."""
        return f"{self.path.parent.parent.name}/{self.path.parent.name}"


def default_data_dir() -> Path:
    """`$AGENTRL_ALFWORLD_DIR`, else `~/.cache/agentrl/alfworld`."""
    configured = os.environ.get(DATA_DIR_VARIABLE)
    return Path(configured) if configured else Path.home() / ".cache" / "agentrl" / "alfworld"


def ensure_games(data_dir: Path) -> Path:
    """The `json_2.1.1` folder under `data_dir`, extracted from the shipped archive when missing.

    Extraction goes to a temporary folder beside the target and is renamed into place, so an
    interrupted run never leaves a half-extracted tree that looks complete.
    """
    games = data_dir / GAMES_FOLDER
    if games.is_dir():
        return games
    if not ARCHIVE.is_file():
        raise FileNotFoundError(
            f"the ALFWorld archive is missing from the package ({ARCHIVE}); reinstall agentrl, or point "
            f"data_dir / ${DATA_DIR_VARIABLE} at a folder that holds {GAMES_FOLDER}/"
        )
    data_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".extracting-", dir=data_dir))
    try:
        with tarfile.open(ARCHIVE, "r:xz") as archive:
            archive.extractall(staging, filter="data")
        (staging / GAMES_FOLDER / COMPLETE_MARKER).touch()
        try:
            (staging / GAMES_FOLDER).rename(games)
        except OSError:
            if not (games / COMPLETE_MARKER).is_file():  # another process did not finish it either
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return games


def list_games(games: Path, split: str) -> list[GameRef]:
    """Every game of `split`, sorted by path so that task indices are the same on every machine."""
    if split not in SPLITS:
        raise ValueError(f"unknown ALFWorld split {split!r}; the data has: {', '.join(SPLITS)}")
    folder = games / split
    if not folder.is_dir():
        raise FileNotFoundError(f"no {split}/ folder in {games}; is it an ALFWorld {GAMES_FOLDER} folder?")
    refs = [GameRef(split, path, task_type_of(path)) for path in sorted(folder.glob("*/*/game.tw-pddl"))]
    if not refs:
        raise FileNotFoundError(f"{folder} holds no */*/game.tw-pddl files")
    return refs


def task_type_of(game_path: Path) -> str:
    """The short task type from the directory name, `<task_type>-<Object>-<MRecep>-<Recep>-<scene>`."""
    family = game_path.parent.parent.name.split("-", 1)[0]
    if family not in TASK_TYPES:
        raise ValueError(
            f"{game_path}: unknown ALFRED task family {family!r}; known: {', '.join(TASK_TYPES)}"
        )
    return TASK_TYPES[family]
