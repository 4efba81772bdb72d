"""Fixtures for the serving tests: tiny SavedModels in a temporary export root, and a running dev server."""

import pytest

from tests.serving.saved_models import ImageModel, TextModel, save_model


@pytest.fixture(scope="session")
def export_root(tmp_path_factory):
    """An export root with `image/1`, `text/1`, `reload/1` and a staged (not yet published) `reload` v2."""
    root = tmp_path_factory.mktemp("export")
    save_model(ImageModel(), str(root / "image" / "1"))
    save_model(TextModel(), str(root / "text" / "1"))
    save_model(ImageModel(), str(root / "reload" / "1"))
    # Version 2 always answers "blue"; it is renamed into place by the reload test.
    save_model(ImageModel(bias=(0.0, 0.0, 100.0)), str(root / "reload" / ".tmp-2"))
    # Things the server must ignore: a staging folder, a version without saved_model.pb, a non-model file.
    (root / "image" / ".tmp-7").mkdir()
    (root / "image" / "9").mkdir()
    (root / "models.config").write_text("model_config_list {}\n")
    return root


@pytest.fixture(scope="session")
def server_url(export_root, dev_server):
    """Base URL of a development server over `export_root` (polling every 0.2 s, 1 MiB request limit)."""
    server = dev_server(export_root, "--poll-seconds", "0.2", "--max-request-bytes", str(1 << 20))
    yield server.url
    server.stop()


@pytest.fixture(scope="module")
def stub_exports(tmp_path_factory):
    """An export root with ``serving.export.stub_export``'s untrained ``video`` and ``image`` models (16x16 input)."""
    from serving.export import stub_export

    root = tmp_path_factory.mktemp("stub_export")
    for name in ("video", "image"):
        stub_export.export_stub(root, name, image_size=16)
    return root
