import unittest

from localfiles import InvalidArgument
from localfiles.names import MAX_NAME_LEN, generate, validate


class NamesTest(unittest.TestCase):
    def test_accepts_plain_names(self) -> None:
        for name in [
            "a",
            "file.txt",
            "...",
            ".hidden",
            "..x",
            "x..",
            "with space",
            "ünïcödé",
            "a:b",
            "n" * MAX_NAME_LEN,
        ]:
            with self.subTest(name=name):
                validate(name)

    def test_rejects_escape_attempts(self) -> None:
        for name in [
            "",
            ".",
            "..",
            "/",
            "/etc/passwd",
            "../secret",
            "../../etc/passwd",
            "a/../../b",
            "dir/file",
            "dir/",
            "./file",
            "file/.",
            "..\\secret",
            "dir\\file",
            "C:\\Windows",
            "nul\0byte",
            "\0",
            "//double",
            "n" * (MAX_NAME_LEN + 1),
            "é" * 128,
        ]:
            with self.subTest(name=name):
                self.assertRaises(InvalidArgument, validate, name)

    def test_rejection_names_the_file(self) -> None:
        with self.assertRaises(InvalidArgument) as caught:
            validate("../x")
        self.assertIn("'../x'", caught.exception.message)

    def test_generated_names_are_unique_lowercase_hex(self) -> None:
        generated = [generate() for _ in range(100)]
        for name in generated:
            self.assertRegex(name, r"\A[0-9a-f]{32}\Z")
            validate(name)
        self.assertEqual(len(set(generated)), len(generated))


if __name__ == "__main__":
    unittest.main()
