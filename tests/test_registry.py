"""Probes and plot kinds by name: built-ins without installation, third-party ones by entry point."""
from importlib.metadata import EntryPoint

import pytest

from landscape import registry


@pytest.fixture
def installed(monkeypatch):
    """Pretend these entry points are installed (and nothing else)."""
    def use(*points):
        registry._table.cache_clear()
        monkeypatch.setattr(registry, "entry_points", lambda group: [p for p in points if p.group == group])
    yield use
    registry._table.cache_clear()


def test_built_in_probes_and_plot_kinds_need_no_installed_metadata(installed):
    installed()
    assert set(registry.probe_names()) == set(registry.BUILTIN_PROBES)
    probe = registry.build_probe("hutchinson", {"samples": 3, "every": 5})
    assert type(probe).__name__ == "HutchinsonProbe" and probe.config()["every"] == 5
    assert callable(registry.plot_kind("pca")) and registry.plot_kind("no_such_kind") is None


def test_a_third_party_probe_is_added_but_cannot_replace_a_built_in(installed):
    installed(EntryPoint("mine", "probes.curvature:OverlapProbe", "landscape.probes"),
              EntryPoint("hutchinson", "probes.curvature:OverlapProbe", "landscape.probes"))
    assert "mine" in registry.probe_names()
    assert type(registry.build_probe("mine")).__name__ == "OverlapProbe"
    assert type(registry.build_probe("hutchinson")).__name__ == "HutchinsonProbe"


def test_unknown_names_and_bad_options_are_one_line_errors(installed):
    installed()
    with pytest.raises(registry.RegistryError, match="unknown probe 'nope'; available: b_vs_h, eigenvalues"):
        registry.build_probe("nope")
    with pytest.raises(registry.RegistryError, match="bad options for probe 'overlap'.*bogus"):
        registry.build_probe("overlap", {"bogus": 1})


def test_the_core_does_not_import_probes_or_studies():
    import subprocess
    import sys
    code = ("import sys, landscape, landscape.cli, landscape.sweep, landscape.plots, landscape.registry; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('probes', 'studies')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stderr


@pytest.mark.parametrize("module, call, extra", [
    ("yaml", lambda tmp: __import__("landscape.sweep").sweep.load_config(tmp / "c.yaml"), "yaml"),
    ("skimage", lambda tmp: __import__("landscape.problems").problems.get("hoop_32x64_0.2"), "shapes"),
    ("xarray", None, "xarray"),
])
def test_a_missing_optional_dependency_names_its_extra(module, call, extra, tmp_path, monkeypatch):
    from landscape.optional import MissingDependency, require
    (tmp_path / "c.yaml").write_text("name: x\n")
    for name in list(__import__("sys").modules):
        if name == module or name.startswith(module + "."):
            monkeypatch.delitem(__import__("sys").modules, name)
    monkeypatch.setitem(__import__("sys").modules, module, None)    # import fails as if not installed
    with pytest.raises(MissingDependency, match=rf"pip install 'nrto-landscape\[{extra}\]'"):
        (call or (lambda tmp: require(module, "this")))(tmp_path)


def test_the_import_layers_hold():
    """The contracts in pyproject.toml ([tool.importlinter]): core below studies, layers inside the core."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path
    linter = Path(sys.executable).with_name("lint-imports")
    if not linter.exists() and shutil.which("lint-imports") is None:
        pytest.skip("import-linter is not installed (pip install -e '.[dev]')")
    done = subprocess.run([str(linter if linter.exists() else "lint-imports")], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parent.parent, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:]


def steepest_wolfe(**options):
    """A third-party factory taking ``**options`` (registered by entry point in the test below)."""
    from landscape.optim import Decomposed, SteepestDescent, StrongWolfe
    return Decomposed(SteepestDescent(), StrongWolfe(**options), "steepest_wolfe", **options)


def test_a_third_party_optimizer_is_built_by_name_but_cannot_replace_a_built_in(installed):
    import torch

    import landscape as L
    from landscape import optim
    from landscape.spec import RunSpec
    installed(EntryPoint("steepest_wolfe", "test_registry:steepest_wolfe", "landscape.optimizers"),
              EntryPoint("gd", "landscape.optim:lbfgs", "landscape.optimizers"),
              EntryPoint("not_an_optimizer", "builtins:dict", "landscape.optimizers"))
    assert "steepest_wolfe" in registry.optimizer_names()
    built = optim.build("steepest_wolfe", c1=1e-3)
    assert built.name == "steepest_wolfe"      # a factory taking **options checks them itself:
    assert optim.accepted_options("steepest_wolfe") == ()
    assert optim.build("gd", lr=0.1).name == "gd"                    # the built-in wins
    with pytest.raises(optim.OptimizerError, match="returned dict, not a landscape.optim.Optimizer"):
        optim.build("not_an_optimizer")
    with pytest.raises(optim.OptimizerError, match="bad options for optimizer 'steepest_wolfe'"):
        optim.build("steepest_wolfe", lr=1)
    with pytest.raises(optim.OptimizerError, match="did you mean steepest_wolfe"):
        optim.build("steepest_wolf")
    with pytest.raises(optim.OptimizerError, match="must be a string"):
        optim.build(["gd"])
    RunSpec(problem="mbb_beam_16x8_0.5", optimizer="steepest_wolfe", steps=2)     # a spec accepts it too
    objective = L.FunctionObjective(lambda t: (t ** 2).sum(), torch.ones(3))
    assert L.run(objective, "steepest_wolfe", steps=3, progress=False).status == "completed"
