"""The batch runner's command line: notebook selection and --set overrides."""
import pytest

from ppcl.profiles import load_profile
from ppcl.reproduce import check_overrides, main, notebooks, parse_overrides


def test_set_builds_nested_overrides_that_merge_into_a_profile():
    o = parse_overrides(["seed=1", "ppcl.epochs=20", "ppcl.area=[0.2, 0.9]", "ppcl.imagenet=true", 'source="real"'])
    assert o == {"seed": 1, "ppcl": {"epochs": 20, "area": [0.2, 0.9], "imagenet": True}, "source": "real"}
    p = load_profile("smoke", o)
    assert p["seed"] == 1 and p["ppcl"]["epochs"] == 20 and p["ppcl"]["lam_cyc"] == 10.0  # the rest kept


@pytest.mark.parametrize("bad, why", [("seed", "KEY=VALUE"), ("=3", "KEY=VALUE"), ("source=real", "TOML value"),
                                      ("ppcl=1 ", None)])
def test_set_refuses_what_it_cannot_read(bad, why):
    if why is None:  # a key given a value and then used as a table
        with pytest.raises(ValueError, match="already given a value"):
            parse_overrides([bad, "ppcl.epochs=2"])
    else:
        with pytest.raises(ValueError, match=why):
            parse_overrides([bad])


def test_cli_reports_a_bad_set_and_unknown_notebooks(capsys, tmp_path):
    with pytest.raises(SystemExit):
        main(["--profile", "smoke", "--out", str(tmp_path), "--set", "seed"])
    assert "KEY=VALUE" in capsys.readouterr().err
    assert [p.name[:2] for p in notebooks(["01", "03"])] == ["01", "03"]
    with pytest.raises(FileNotFoundError, match="numbered notebooks"):
        notebooks(["99"])


def test_set_refuses_a_key_the_profile_does_not_have(capsys, tmp_path):
    p = load_profile("smoke")
    check_overrides(p, parse_overrides(["seed=3", "ppcl.epochs=2"]))  # known keys pass
    with pytest.raises(ValueError, match=r"ppcl\.epoch: expected one of .*'epochs'"):
        check_overrides(p, parse_overrides(["ppcl.epoch=2"]))
    with pytest.raises(SystemExit):
        main(["--profile", "smoke", "--out", str(tmp_path), "--set", "sed=1"])
    assert "found no 'sed'" in capsys.readouterr().err
