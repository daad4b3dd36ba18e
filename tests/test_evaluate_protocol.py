"""evaluate's named protocols: test-crop is protocol A on centred 624 px LR crops of Test, labelled as such."""

import pytest

from lolisr_lib.commands.cli import main
from lolisr_lib.data.cache import CACHE_ENV
from lolisr_lib.data.fake import make_fake_tree
from lolisr_lib.errors import UserError
from lolisr_lib.evaluate import PROTOCOLS, evaluate


@pytest.fixture(scope="module")
def real_size(tmp_path_factory):
    """One Test scene at RELLISUR's sizes: 625 px inputs and their x1 target."""
    return make_fake_tree(tmp_path_factory.mktemp("real-size"), scenes=1, scales=(1,), splits=("Test",))


def test_test_crop_is_a_centred_624_crop_in_rgb_and_says_so(real_size, monkeypatch):
    monkeypatch.delenv(CACHE_ENV, raising=False)
    assert (PROTOCOLS["test-crop"].crop, PROTOCOLS["test-crop"].y_channel) == (624, False)
    named = evaluate("gain-bicubic", real_size, "Test", 1, protocol="test-crop", limit=2)
    by_hand = evaluate("gain-bicubic", real_size, "Test", 1, crop=624, limit=2)
    full = evaluate("gain-bicubic", real_size, "Test", 1, limit=2)
    assert [r["psnr"] for r in named.rows] == [r["psnr"] for r in by_hand.rows] != [r["psnr"] for r in full.rows]
    label = named.summary["protocol"]
    assert label.startswith("test-crop (protocol A on Test_crop")
    assert "A: uint8 RGB" in label and "centre crop 624 LR / 624 HR" in label
    assert by_hand.summary["protocol"].startswith("A: uint8 RGB")  # unnamed switches stay unlabelled


@pytest.mark.parametrize("extra, match", [
    ({"crop": 500}, "fixes the crop"),
    ({"y_channel": True}, "fixes the crop"),
    ({"split": "Val"}, "defined on the Test split"),
    ({"protocol": "test_crop"}, "not a named protocol"),
])
def test_a_named_protocol_refuses_what_contradicts_it(real_size, extra, match):
    kwargs = {"split": "Test", "protocol": "test-crop", **extra}
    with pytest.raises(UserError, match=match):
        evaluate("bicubic", real_size, scale=1, **kwargs)


def test_the_command_line_prints_the_protocol(real_size, capsys):
    assert main(["evaluate", "--baseline", "bicubic", "--data", str(real_size), "--split", "Test", "--scale", "1",
                 "--protocol", "test-crop", "--limit", "1", "--device", "cpu"]) == 0
    assert "protocol: test-crop (protocol A on Test_crop" in capsys.readouterr().out
    assert main(["evaluate", "--baseline", "bicubic", "--data", str(real_size), "--scale", "1", "--protocol",
                 "test-crop", "--crop", "100"]) == 2
