"""Bad input and file-integrity behaviour of taskrel.data (the real-data happy paths live in nbs/01_data.ipynb)."""
from pathlib import Path
import numpy as np
import pytest
from taskrel import data
from taskrel.data import ChecksumError, FILES, load_dataset, locate, make_task, split_dataset

USPS_TEST = locate("usps/usps.t.bz2")  # the real, verified file, found before any test isolates the roots


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    "An empty data root as the only place searched (no $TASKREL_DATA, cwd without data/)."
    monkeypatch.delenv("TASKREL_DATA", raising=False)
    monkeypatch.chdir(tmp_path)
    data._verified.clear()
    root = tmp_path / "root"; root.mkdir()
    return root


def test_unknown_name_lists_choices():
    with pytest.raises(ValueError, match=r"unknown dataset name='imagenet'.*'usps'"):
        load_dataset("imagenet")


@pytest.mark.parametrize("name,split", [("usps", "validation"), ("mnist", "dev"), ("digits", "train"), ("sst5", "val")])
def test_wrong_split_lists_valid_splits(name, split):
    with pytest.raises(ValueError, match=rf"split='{split}' does not exist"):
        load_dataset(name, split)


def test_missing_file_names_file_every_place_and_remedy(isolated):
    with pytest.raises(FileNotFoundError) as e:
        load_dataset("usps", "test", root=isolated)
    msg = str(e.value)
    assert "usps.t.bz2" in msg
    assert str(isolated / "usps" / "usps.t.bz2") in msg          # the root argument
    assert str(Path("data").absolute() / "usps" / "usps.t.bz2") not in msg  # an explicit root is searched alone
    assert "download=True" in msg and "TASKREL_DATA" in msg


def test_missing_file_also_lists_system_dirs(isolated, monkeypatch):
    f = data.DataFile("fake/x.gz", ("0" * 64,), system_dirs=(str(isolated / "sys"),))
    monkeypatch.setitem(FILES, f.path, f)
    with pytest.raises(FileNotFoundError) as e:
        locate(f.path)                                             # no root: the default roots, then system dirs
    assert str(isolated / "sys" / "x.gz") in str(e.value)
    assert str(Path("data").absolute() / "fake" / "x.gz") in str(e.value)
    assert "no public download address" in str(e.value)


def test_corrupt_file_is_an_error_naming_the_mismatch(isolated):
    (isolated / "usps").mkdir()
    good = USPS_TEST
    bad = isolated / "usps" / "usps.t.bz2"
    blob = bytearray(good.read_bytes()); blob[1000] ^= 0xFF
    bad.write_bytes(bytes(blob))
    with pytest.raises(ChecksumError, match=r"sha256 checksum mismatch") as e:
        load_dataset("usps", "test", root=isolated)
    assert str(bad) in str(e.value)
    assert isinstance(e.value, ValueError)


def test_corrupt_copy_is_not_skipped_for_a_later_good_one(isolated, monkeypatch):
    "The first copy found is used: a corrupt file early in the order must not be silently bypassed."
    monkeypatch.setenv("TASKREL_DATA", str(isolated))            # first in the order: a corrupt copy
    (isolated / "usps").mkdir()
    (isolated / "usps" / "usps.t.bz2").write_bytes(b"not a bzip2 file")
    (Path("data") / "usps").mkdir(parents=True)                   # later in the order: a good copy
    (Path("data") / "usps" / "usps.t.bz2").symlink_to(USPS_TEST)
    with pytest.raises(ChecksumError):
        load_dataset("usps", "test")


def test_explicit_root_never_falls_back(isolated, monkeypatch):
    "root=DIR looks only in DIR, even when $TASKREL_DATA holds the file."
    monkeypatch.setenv("TASKREL_DATA", str(USPS_TEST.parent.parent))
    assert load_dataset("usps", "test")[0].shape == (2007, 16, 16)
    with pytest.raises(FileNotFoundError, match="usps.t.bz2"):
        load_dataset("usps", "test", root=isolated)


def test_nothing_written_without_download(isolated):
    before = sorted(p for p in isolated.parent.rglob("*"))
    with pytest.raises(FileNotFoundError):
        load_dataset("mnist", "test", root=isolated)
    assert sorted(p for p in isolated.parent.rglob("*")) == before


def test_failed_download_leaves_no_file(isolated, monkeypatch):
    "A download whose bytes fail the checksum leaves neither the file nor its temporary copy."
    import io, urllib.request
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=60: io.BytesIO(b"truncated"))
    with pytest.raises(ChecksumError):
        load_dataset("usps", "test", root=isolated, download=True)
    assert list((isolated / "usps").iterdir()) == []


def test_successful_download_is_renamed_after_checksum(isolated, monkeypatch):
    import io, urllib.request
    payload = USPS_TEST.read_bytes()
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=60: io.BytesIO(payload))
    X, y = load_dataset("usps", "test", root=isolated, download=True)
    assert X.shape == (2007, 16, 16)
    assert [p.name for p in (isolated / "usps").iterdir()] == ["usps.t.bz2"]


def test_mnist_train_fails_clearly_here():
    if any(p.exists() for p in data.candidate_paths(FILES["mnist/train-images-idx3-ubyte.gz"])):
        pytest.skip("MNIST train images are present on this machine")
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte.gz"):
        load_dataset("mnist", "train")


def test_make_task_rejects_bad_requests():
    X, y = np.zeros((6, 2, 2), np.uint8), np.array([0, 0, 1, 1, 2, 2])
    with pytest.raises(ValueError, match=r"classes=\[7\] do not occur"):
        make_task(X, y, classes=[7])
    with pytest.raises(ValueError, match="has repeats"):
        make_task(X, y, classes=[1, 1])
    with pytest.raises(ValueError, match="n_per_class=3 but class 0 has only 2"):
        make_task(X, y, n_per_class=3)
    Xs, ys = make_task(X, y, classes=[2, 0])
    assert ys.tolist() == [1, 1, 0, 0]  # class 2 becomes 0 and class 0 becomes 1, sample order kept


def test_split_dataset_partitions_and_handles_text():
    texts, y = [f"t{i}" for i in range(20)], np.repeat([0, 1], 10)
    a, ya, b, yb = split_dataset(texts, y, test_fraction=0.3, seed=4)
    assert sorted(a + b) == sorted(texts) and len(b) == 6
    assert np.bincount(yb).tolist() == [3, 3]
    with pytest.raises(ValueError, match="test_fraction=1.5"):
        split_dataset(texts, y, test_fraction=1.5)
