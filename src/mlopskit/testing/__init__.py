"""Public test doubles and conformance suites.

Every backend passes the same suite: subclass the suite class and provide the fixture it
names, the way fsspec's abstract tests are subclassed by each filesystem::

    from mlopskit.testing import StoreConformance

    class TestMyStore(StoreConformance):
        @pytest.fixture
        def store(self): ...

Importing this module needs pytest (a test dependency, not a core one).
"""

from __future__ import annotations

from mlopskit.testing._store import StoreConformance, corrupt_object, make_tree
from mlopskit.testing._tracking import TrackerConformance

__all__ = ["StoreConformance", "TrackerConformance", "corrupt_object", "make_tree"]
