import shutil
import tempfile
import unittest
from pathlib import Path

from localfiles import Storage


class TempDirTestCase(unittest.TestCase):
    """Each test gets ``self.dir``, a fresh directory removed afterwards."""

    def setUp(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="wasmplug-py-localstorage-"))
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)

    def storage(self) -> Storage:
        return Storage(str(self.dir))
