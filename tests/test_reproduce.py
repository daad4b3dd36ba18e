"""reproduce: methods from checkpoints, brief runs or nothing; the report and its file; the cheat; the stages."""

import math

import pytest
import torch

from lolisr_lib.baselines import SequentialCNN
from lolisr_lib.data import RellisurDataset
from lolisr_lib.errors import CheckpointError, UserError
from lolisr_lib.evaluate.metrics import psnr
from lolisr_lib.evaluate.published import TABLES, load_published
from lolisr_lib.lessons import reproduce as rp
from lolisr_lib.model.build import build_model


@pytest.mark.parametrize("scale, patch", [(1, 32), (2, 32), (4, 64)])
def test_brief_config_is_the_tiny_preset_made_quick(scale, patch):
    config = rp.brief_config("joint-cnn", scale, 12, seed=3)
    t = config.train
    assert (config.model.arch, config.model.scale, t.steps, t.seed) == ("joint-cnn", scale, 12, 3)
    assert (t.batch_size, t.patch_size, t.val_every, t.checkpoint_every, t.num_workers) == (4, patch, 3, 3, 0)
    assert (config.model.baseline.channels, config.model.baseline.blocks) == (16, 4)
    flow = rp.brief_config("lolisrflow", scale, 12)
    assert flow.model.arch == "lolisrflow" and flow.model.baseline == build_model(flow).config.model.baseline


def test_brief_config_rejects_unknown_arch():
    with pytest.raises(UserError, match="unknown arch"):
        rp.brief_config("srflow", 2, 10)


def test_classical_methods_make_images_scale_times_larger():
    methods = rp.classical_methods(2)
    assert [m.name for m in methods] == ["bicubic", "he-bicubic", "gain-bicubic"]
    assert methods[0].type == "upscaling only" and methods[1].type == "sequential (classical)"
    out = methods[2].model.enhance(torch.rand(1, 3, 8, 8) * 0.1)
    assert out.shape == (1, 3, 16, 16)


def _saved(tmp_path, arch, scale=2, name=None):
    model = build_model(rp.brief_config(arch, scale, 5))
    return model.save(tmp_path / (name or f"{arch}-x{scale}.pt"))


def test_learned_method_from_a_checkpoint_is_named_and_typed(tmp_path):
    method = rp.learned_method("joint-cnn", 2, checkpoint=_saved(tmp_path, "joint-cnn"))
    assert method.name == "joint CNN (tiny-x2)" and method.type == "joint" and method.model is not None
    assert "checkpoint" in method.note
    with pytest.raises(CheckpointError, match="holds a joint-cnn model"):
        rp.learned_method("sequential-cnn", 2, checkpoint=_saved(tmp_path, "joint-cnn"))


@pytest.mark.parametrize("arch, label", [("joint-cnn", "joint CNN (small-x2, step 2250)"),
                                         ("lolisrflow", "LoLiSRFlow (wide-ema-long-x2, step 5000)")])
def test_learned_method_pretrained_reads_the_shipped_file(arch, label):
    method = rp.learned_method(arch, 2, checkpoint="pretrained")
    assert method.name == label and method.note == f"shipped {arch}-x2.pt"


def test_learned_method_search_skips_other_scales_and_missing_files(tmp_path):
    search = [tmp_path / "missing.pt", _saved(tmp_path, "sequential-cnn", scale=4), _saved(tmp_path, "sequential-cnn")]
    method = rp.learned_method("sequential-cnn", 2, search=search)
    assert method.type == "sequential" and method.note == f"found {search[2]}"


def test_learned_method_without_weights_or_steps_is_not_measured(tmp_path):
    method = rp.learned_method("lolisrflow", 2, search=[_saved(tmp_path, "lolisrflow", scale=4)])
    assert method.model is None and method.name == "LoLiSRFlow" and "not trained" in method.note
    assert "x4" in method.note  # why the found checkpoint was skipped
    with pytest.raises(UserError, match="needs a runs_dir"):
        rp.learned_method("joint-cnn", 2, steps=3)
    with pytest.raises(UserError, match="unknown arch"):
        rp.learned_method("srflow", 2)


def test_learned_baselines_train_briefly_and_reuse_the_run(tmp_path, mini_root):
    methods = rp.learned_baselines(2, steps=2, runs_dir=tmp_path, data_root=mini_root, device="cpu")
    assert [m.type for m in methods] == ["sequential", "joint"]
    assert all(m.model is not None and "step 2" in m.name for m in methods)
    run = rp.brief_run_dir(tmp_path, "joint-cnn", 2, 2)
    assert run.name == "joint-cnn-x2-seed0-2steps" and str(run) in methods[1].note
    stamp = (run / "last.pt").stat().st_mtime_ns
    again = rp.learned_baselines(2, steps=2, runs_dir=tmp_path, data_root=mini_root, device="cpu")  # reused
    assert [m.name for m in again] == [m.name for m in methods] and (run / "last.pt").stat().st_mtime_ns == stamp
    other = rp.learned_baselines(2, steps=3, runs_dir=tmp_path, data_root=mini_root, device="cpu", seed=1)
    assert all("step 3" in m.name for m in other)  # new settings: a new run beside the old one
    with pytest.raises(UserError, match="joint_cnn"):
        rp.learned_baselines(2, {"joint_cnn": "x.pt"})


@pytest.fixture(scope="module")
def scored(mini_root):
    methods = rp.classical_methods(2) + [rp.Method("joint CNN", "joint", None, "not trained here")]
    return methods, rp.evaluate_methods(methods, mini_root, "Test", 2, limit=10, device="cpu")


def test_evaluate_methods_scores_measured_methods_only(scored):
    methods, results = scored
    assert list(results) == ["bicubic", "he-bicubic", "gain-bicubic"]
    rows = rp.measured_rows(methods, results)
    assert [r.method for r in rows] == list(results) and all(r.source == "measured" for r in rows)
    assert rows[1].type == "sequential (classical)" and rows[0].psnr == results["bicubic"].summary["psnr"]
    with pytest.raises(UserError, match="unique"):
        rp.evaluate_methods(methods[:1] * 2, None, "Test", 2)


def test_per_ev_and_its_table(scored):
    _, results = scored
    table = rp.per_ev(results)
    assert set(table) == set(results) and all(list(v) == sorted(v, reverse=True) for v in table.values())
    text = rp.per_ev_markdown(results)
    lines = text.splitlines()
    assert lines[0].count("PSNR / SSIM") == 3 and lines[2].startswith("| all | 10 |")
    assert len(lines) == 3 + len(table["bicubic"])


def test_per_scene_table_runs_from_the_darkest_target_and_averages_each_scene(scored, mini_root):
    _, results = scored
    pairs = RellisurDataset(mini_root, "Test", 2).pairs
    lines = rp.per_scene_markdown(results, pairs, names=["bicubic", "he-bicubic"]).splitlines()
    assert lines[0] == "| scene | target mean (code value) | bicubic PSNR | he-bicubic PSNR |"
    rows = [line.strip("| ").split(" | ") for line in lines[2:]]
    scenes = {r["scene"] for r in results["bicubic"].rows}  # limit=10: the first two scenes' exposures
    assert {r[0] for r in rows} == scenes
    assert [float(r[1]) for r in rows] == sorted(float(r[1]) for r in rows)
    for scene, _, cell, _ in rows:
        mine = [r["psnr"] for r in results["bicubic"].rows if r["scene"] == scene]
        assert float(cell) == pytest.approx(sum(mine) / len(mine), abs=0.005)
    short = rp.per_scene_markdown(results, pairs, shown=1).splitlines()
    assert len(short) == 2 + 2 and short[2].startswith("| ... |")
    with pytest.raises(UserError, match="no results for oracle"):
        rp.per_scene_markdown(results, pairs, names=["oracle"])


def test_results_markdown_and_file(scored, tmp_path):
    methods, results = scored
    text = rp.results_markdown(methods, results, 2, data_note=rp.MINIATURE_NOTE)
    published = sum(r.scale == 2 for t in TABLES for r in load_published(t))
    kinds = [line.split(" | ")[0] for line in text.splitlines() if line.startswith("| measured") or
             line.startswith("| reported")]
    assert kinds.count("| measured") == 3 and kinds.count("| reported") == published
    assert "NOT comparable" in text and "## Not measured" in text and "- joint CNN (joint): not trained here" in text
    path = rp.write_results(text, tmp_path / "out", 2)
    assert path.name == "results_x2.md" and path.read_text() == text
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]
    with pytest.raises(UserError, match="no method was measured"):
        rp.results_markdown(methods, {}, 2, data_note="")


def test_gt_mean_rescale_undoes_a_pure_brightness_error():
    gt = torch.rand(3, 16, 16, generator=torch.Generator().manual_seed(0)) * 0.8
    fixed = rp.gt_mean_rescale(gt * 0.25, gt)
    assert torch.allclose(fixed, gt, atol=1e-5)
    assert rp.gt_mean_rescale(torch.zeros(3, 4, 4), gt[:, :4, :4]).abs().max() == 0  # black stays black


def test_examples_and_the_cheat(mini_root):
    dataset = RellisurDataset(mini_root, "Test", 2)
    methods = rp.classical_methods(2) + [rp.Method("none", "joint", None)]
    ex = rp.enhance_examples(methods, dataset, [0, 7], crop=8)
    assert [tuple(x.shape) for x in ex.lq] == [(3, 8, 8)] * 2 and tuple(ex.gt[0].shape) == (3, 16, 16)
    assert set(ex.outputs) == {"bicubic", "he-bicubic", "gain-bicubic"} and len(ex.scene) == len(ex.ev) == 2
    effect = rp.cheat_effect(ex)
    raw, cheat = effect["bicubic"]
    assert raw == pytest.approx(sum(psnr(p, g) for p, g in zip(ex.outputs["bicubic"], ex.gt)) / 2)
    assert cheat > raw  # the dark bicubic output is brightened by reading the target


def test_sequential_stages_decompose_the_pipeline(mini_root):
    dataset = RellisurDataset(mini_root, "Test", 2)
    model = build_model(rp.brief_config("sequential-cnn", 2, 5))
    method = rp.Method("seq", "sequential", model)
    ex = rp.enhance_examples([method], dataset, [0, 3])
    stages = rp.sequential_stages(model, ex)
    assert set(stages) == {"lle", "sr_on_clean", "pipeline"} and all(math.isfinite(v) for v in stages.values())
    assert stages["pipeline"] == pytest.approx(sum(psnr(p, g) for p, g in zip(ex.outputs["seq"], ex.gt)) / 2)
    assert isinstance(model, SequentialCNN)
    with pytest.raises(UserError, match="SequentialCNN"):
        rp.sequential_stages(rp.classical_methods(2)[0].model, ex)


def test_exposure_methods_read_the_ev_and_are_labelled_so(mini_root):
    """The EV-reading rows: the exposure-gain baseline always, the flow with its brightness from the exposure
    only beside a measured flow; each output is what its model gives with each example's own EV."""
    flow_model = build_model(rp.brief_config("lolisrflow", 2, 5)).eval()
    flow = rp.Method("LoLiSRFlow (tiny-x2)", "joint", flow_model, "checkpoint x.pt")
    assert [m.name for m in rp.exposure_methods(2)] == ["exposure-gain-bicubic"]
    assert [m.name for m in rp.exposure_methods(2, rp.Method("LoLiSRFlow", "joint", None))] == [
        "exposure-gain-bicubic"]
    rows = rp.exposure_methods(2, flow)
    assert [m.name for m in rows] == ["exposure-gain-bicubic", "LoLiSRFlow (tiny-x2), brightness from the exposure"]
    assert all("reads the EV" in m.type for m in rows) and rows[1].note.startswith("checkpoint x.pt")
    dataset = RellisurDataset(mini_root, "Test", 2)
    ex = rp.enhance_examples([flow, *rows], dataset, [0, 7])
    assert ex.ev[0] != ex.ev[1]  # two exposures, so a wrong EV would show
    for i, ev in enumerate(ex.ev):
        lq = ex.lq[i][None]
        expected = rows[0].model.enhance(lq, ev=ev)[0]
        assert torch.equal(ex.outputs["exposure-gain-bicubic"][i], expected)
        with torch.no_grad():
            expected = rows[1].model.enhance(lq, ev=ev)[0]
        assert torch.allclose(ex.outputs[rows[1].name][i], expected, atol=1e-6)
        assert not torch.allclose(ex.outputs[rows[1].name][i], ex.outputs[flow.name][i], atol=1e-3)


def test_method_output_gives_each_method_what_it_reads():
    from lolisr_lib.baselines import make_baseline
    from lolisr_lib.evaluate import method_output

    lq = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(0)) * 0.1
    gt = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    bicubic, exposure, oracle = (make_baseline(n, 2) for n in ("bicubic", "exposure-gain-bicubic", "oracle-gain"))
    assert torch.equal(method_output(bicubic, lq, ev=-3.0, target=gt), bicubic.enhance(lq))
    assert torch.equal(method_output(exposure, lq, ev=-3.0), exposure.enhance(lq, ev=-3.0))
    assert torch.equal(method_output(oracle, lq, target=gt), oracle.enhance(lq, target=gt))
    with pytest.raises(UserError, match="give ev="):
        method_output(exposure, lq)
    with pytest.raises(UserError, match="give target="):
        method_output(oracle, lq, ev=-3.0)
