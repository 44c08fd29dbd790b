import os
import unittest

from localfiles import InvalidArgument, NotFound, Other, Storage

from .helpers import TempDirTestCase


class OpenTest(TempDirTestCase):
    def test_requires_an_existing_directory(self) -> None:
        self.assertRaises(InvalidArgument, Storage, "")
        with self.assertRaises(Other) as caught:
            Storage(str(self.dir / "missing"))
        self.assertIn("missing", caught.exception.message)
        (self.dir / "file").write_bytes(b"x")
        with self.assertRaises(Other) as caught:
            Storage(str(self.dir / "file"))
        self.assertIn("not a directory", caught.exception.message)
        self.storage().check_root()

    def test_check_root_notices_a_removed_root(self) -> None:
        root = self.dir / "root"
        root.mkdir()
        storage = Storage(str(root))
        root.rmdir()
        self.assertRaises(Other, storage.check_root)

    @unittest.skipUnless(hasattr(os, "symlink"), "needs symlinks")
    def test_a_symlinked_root_is_allowed(self) -> None:
        real = self.dir / "real"
        real.mkdir()
        (self.dir / "link").symlink_to(real)
        Storage(str(self.dir / "link")).create("f", b"x")
        self.assertEqual((real / "f").read_bytes(), b"x")


class FilesTest(TempDirTestCase):
    def test_create_get_list_delete_round_trip(self) -> None:
        storage = self.storage()
        self.assertEqual(storage.list(), [])

        self.assertEqual(storage.create("b.txt", b"hello"), "b.txt")
        self.assertEqual(storage.get("b.txt"), b"hello")
        self.assertEqual((self.dir / "b.txt").read_bytes(), b"hello")

        storage.create("b.txt", b"hi")  # overwrite with shorter data
        self.assertEqual(storage.get("b.txt"), b"hi")
        storage.create("a", b"")  # empty data is a valid file
        self.assertEqual(storage.get("a"), b"")

        fresh = storage.create(None, b"\x00\xffbinary")
        self.assertEqual(len(fresh), 32)
        self.assertEqual(storage.get(fresh), b"\x00\xffbinary")

        (self.dir / "subdir").mkdir()
        (self.dir / "subdir" / "inner").write_bytes(b"x")
        self.assertEqual(
            storage.list(), sorted(["a", "b.txt", fresh]), "directories are not listed"
        )

        storage.delete("b.txt")
        self.assertRaises(NotFound, storage.get, "b.txt")
        self.assertRaises(NotFound, storage.delete, "b.txt")
        self.assertFalse((self.dir / "b.txt").exists())
        storage.delete(fresh)
        self.assertEqual(storage.list(), ["a"])

    def test_missing_files_are_not_found(self) -> None:
        storage = self.storage()
        with self.assertRaises(NotFound) as caught:
            storage.get("nope")
        self.assertIn("'nope'", caught.exception.message)
        self.assertRaises(NotFound, storage.delete, "nope")

    def test_invalid_names_never_touch_the_file_system(self) -> None:
        root = self.dir / "root"
        root.mkdir()
        (root / "sub").mkdir()
        outside = self.dir / "outside"
        outside.write_bytes(b"secret")
        storage = Storage(str(root))
        for name in [
            "../outside",
            str(outside),
            "sub/../../outside",
            "sub/x",
            "..",
            ".",
            "",
            "a\\b",
            "a\0b",
        ]:
            with self.subTest(name=name):
                self.assertRaises(InvalidArgument, storage.get, name)
                self.assertRaises(InvalidArgument, storage.create, name, b"pwned")
                self.assertRaises(InvalidArgument, storage.delete, name)
        self.assertEqual(outside.read_bytes(), b"secret")
        self.assertFalse((root / "sub" / "x").exists())
        self.assertEqual(storage.list(), [])

    def test_directories_are_refused(self) -> None:
        (self.dir / "d").mkdir()
        storage = self.storage()
        self.assertRaises(InvalidArgument, storage.get, "d")
        self.assertRaises(InvalidArgument, storage.create, "d", b"x")
        self.assertRaises(InvalidArgument, storage.delete, "d")
        self.assertTrue((self.dir / "d").is_dir())

    @unittest.skipUnless(hasattr(os, "symlink"), "needs symlinks")
    def test_symlinks_are_refused_and_not_listed(self) -> None:
        root = self.dir / "root"
        root.mkdir()
        target = self.dir / "target"
        target.write_bytes(b"secret")
        (root / "link").symlink_to(target)
        (root / "dangling").symlink_to(self.dir / "nowhere")
        (root / "dirlink").symlink_to(self.dir)
        storage = Storage(str(root))
        for name in ["link", "dangling", "dirlink"]:
            with self.subTest(name=name):
                with self.assertRaises(InvalidArgument) as caught:
                    storage.get(name)
                self.assertIn("symlink", caught.exception.message)
                self.assertRaises(InvalidArgument, storage.create, name, b"pwned")
                self.assertRaises(InvalidArgument, storage.delete, name)
        self.assertEqual(target.read_bytes(), b"secret")
        self.assertFalse((self.dir / "nowhere").exists())
        self.assertTrue((root / "link").is_symlink())
        self.assertEqual(storage.list(), [])

    def test_names_that_are_not_utf8_are_not_listed(self) -> None:
        try:
            open(os.path.join(os.fsencode(self.dir), b"bad\xff"), "wb").close()
        except OSError:
            self.skipTest("the file system refuses non-UTF-8 names")
        (self.dir / "good").write_bytes(b"")
        self.assertEqual(self.storage().list(), ["good"])


if __name__ == "__main__":
    unittest.main()
