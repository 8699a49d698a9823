from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The shared real recordings; tests using them skip when they are absent."""
    if not DATA.is_dir():
        pytest.skip(f"real test data not found at {DATA}")
    return DATA
