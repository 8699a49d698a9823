from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The shared real recordings; tests using them skip when they are absent."""
    if not DATA.is_dir():
        pytest.skip(f"real test data not found at {DATA}")
    return DATA


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """CI has two cores shared with the test runner: torch's thread pool stalls there."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
