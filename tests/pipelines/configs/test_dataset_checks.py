"""The configs' dataset checks run before TensorFlow loads: a bad DATASET fails in a fraction of a second."""

from tests.helpers import refusals_without_tensorflow


def test_missing_or_classless_dataset_folder_fails_before_tensorflow_loads(tmp_path):
    """The image and video commands refuse these in the config's validate(), without TensorFlow's start-up."""
    (tmp_path / "empty").mkdir()
    datasets = [str(tmp_path / "missing"), str(tmp_path / "empty")]
    codes, tensorflow_loaded, errors = refusals_without_tensorflow(["image", "video"], datasets)
    assert codes == [2, 2, 2, 2] and not tensorflow_loaded
    assert len(errors) == 4, errors
    assert "does not exist" in errors[0] and "no class sub-folders" in errors[1] and "image files" in errors[1]
    assert "does not exist" in errors[2] and "video files" in errors[3]


def test_unknown_tfds_dataset_fails_before_tensorflow_loads(tmp_path):
    """TFDS looks names up without TensorFlow: the image and video commands refuse a typo in validate()."""
    codes, tensorflow_loaded, errors = refusals_without_tensorflow(
        ["image", "video"], ["tfds:surely_not_a_dataset"], env={"TFDS_DATA_DIR": str(tmp_path), "HOME": str(tmp_path)}
    )
    assert codes == [2, 2] and not tensorflow_loaded
    assert len(errors) == 2 and all("unknown TFDS dataset 'surely_not_a_dataset'" in e for e in errors), errors
