import json

from localfiles import InvalidArgument, NotFound, Unimplemented, invoke

from .helpers import TempDirTestCase


class OpsTest(TempDirTestCase):
    def test_operations_end_to_end(self) -> None:
        storage = self.storage()
        created = invoke(storage, "create", b"payload", [("fileName", 'my "file"')])
        self.assertEqual(created.data, b'{"fileName":"my \\"file\\""}')
        self.assertEqual(created.content_type, "application/json")
        self.assertEqual(created.metadata, [("fileName", 'my "file"')])

        fresh = invoke(storage, "create", b"other", [])
        fresh_name = fresh.metadata[0][1]
        self.assertEqual(len(fresh_name), 32)
        self.assertEqual(json.loads(fresh.data), {"fileName": fresh_name})

        got = invoke(storage, "get", b"", [("fileName", 'my "file"')])
        self.assertEqual(got.data, b"payload")
        self.assertIsNone(got.content_type)

        listed = invoke(storage, "list", b"", [])
        self.assertEqual(json.loads(listed.data), sorted(['my "file"', fresh_name]))
        self.assertEqual(listed.content_type, "application/json")

        deleted = invoke(storage, "delete", b"", [("fileName", fresh_name)])
        self.assertEqual(deleted.data, b"")
        self.assertRaises(NotFound, invoke, storage, "get", b"", [("fileName", fresh_name)])
        self.assertRaises(NotFound, invoke, storage, "delete", b"", [("fileName", fresh_name)])

    def test_json_is_compact_and_keeps_unicode(self) -> None:
        storage = self.storage()
        created = invoke(storage, "create", b"", [("fileName", "é\n")])
        self.assertEqual(created.data, '{"fileName":"é\\n"}'.encode())
        self.assertEqual(invoke(storage, "list", b"", []).data, '["é\\n"]'.encode())

    def test_empty_file_name_means_generated_for_create_only(self) -> None:
        storage = self.storage()
        created = invoke(storage, "create", b"x", [("fileName", "")])
        self.assertEqual(len(created.metadata[0][1]), 32)
        for op in ["get", "delete"]:
            with self.subTest(op=op):
                self.assertRaises(InvalidArgument, invoke, storage, op, b"", [("fileName", "")])

    def test_empty_list_is_an_empty_array(self) -> None:
        self.assertEqual(invoke(self.storage(), "list", b"", []).data, b"[]")

    def test_file_name_is_required_for_get_and_delete(self) -> None:
        for op in ["get", "delete"]:
            with self.subTest(op=op):
                with self.assertRaises(InvalidArgument) as caught:
                    invoke(self.storage(), op, b"", [("filename", "x")])
                self.assertIn("fileName", caught.exception.message)

    def test_escaping_names_are_invalid_for_every_operation(self) -> None:
        storage = self.storage()
        for op in ["create", "get", "delete"]:
            for name in ["../x", "/etc/passwd", "..", "a/b"]:
                with self.subTest(op=op, name=name):
                    self.assertRaises(
                        InvalidArgument, invoke, storage, op, b"x", [("fileName", name)]
                    )

    def test_unknown_operations_are_unimplemented(self) -> None:
        with self.assertRaises(Unimplemented) as caught:
            invoke(self.storage(), "Create", b"", [])
        self.assertIn("'Create'", caught.exception.message)
