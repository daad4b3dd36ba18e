"""Check a RELLISUR copy before training on it: counts per split, scale and EV, and every problem found.

The shallow check (default) lists folders, parses names and reads each PNG's 33-byte header (size, bit depth,
colour type), so it covers the full dataset in seconds; ``deep=True`` also decodes every image, which
catches truncated or corrupt files. RELLISUR: Aakerberg et al., NeurIPS 2021 (see ``layout.py``). The
report ends with how complete the decoded-image cache is per scale (:mod:`lolisr_lib.data.cache`; deep also
compares every cached PNG's fingerprint): a missing or incomplete cache is not a problem of the copy.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from lolisr_lib.config import SCALES
from lolisr_lib.data.cache import CACHE_ENV, cache_status, env_cache_dir
from lolisr_lib.data.layout import (
    DUPLICATE_DIR,
    EXPOSURES_PER_SCENE,
    FULL_LLLR_COUNTS,
    SPLITS,
    Pair,
    parse_lllr_name,
    parse_target_name,
    resolve_root,
    scan_inputs,
    scan_split,
    visible_files,
)
from lolisr_lib.errors import DatasetError
from lolisr_lib.image.io import header_problem, read_png, read_png_header

_SHOWN_PROBLEMS = 40  # format() lists at most this many problems (and notes), then a count


@dataclass
class CheckReport:
    """What :func:`check_dataset` found; ``ok`` when there are no problems, ``format()`` for people."""

    root: Path  # the RELLISUR-Dataset folder checked
    deep: bool  # True: every image was decoded; False: names and PNG headers only
    scenes: dict[str, int] = field(default_factory=dict)  # split -> scenes with at least one input
    lllr: dict[str, int] = field(default_factory=dict)  # split -> well-named LLLR inputs
    per_ev: dict[str, dict[float, int]] = field(default_factory=dict)  # split -> EV -> LLLR inputs
    targets: dict[str, dict[int, int]] = field(default_factory=dict)  # split -> scale -> target files found
    layout: dict[str, dict[int, str]] = field(default_factory=dict)  # split -> scale -> folder the loader reads
    problems: list[str] = field(default_factory=list)  # one readable line per problem
    notes: list[str] = field(default_factory=list)  # worth knowing, but not wrong
    cache: list[str] = field(default_factory=list)  # how complete the decoded-image cache is, one line per scale

    @property
    def ok(self) -> bool:
        return not self.problems

    def format(self) -> str:
        """A readable report: a table of counts, the EV histogram, then the problems."""
        mode = "deep: every image decoded" if self.deep else "shallow: names and PNG headers; --deep decodes"
        lines = [f"RELLISUR check of {self.root} ({mode})", ""]
        lines += self._count_table() + [""] + self._ev_table() + [""]
        full = " / ".join(str(FULL_LLLR_COUNTS[split]) for split in SPLITS)
        lines.append(f"(the complete RELLISUR has {full} LLLR inputs in {' / '.join(SPLITS)}, 5 per scene)")
        lines += [f"note: {note}" for note in self.notes[:_SHOWN_PROBLEMS]]
        if len(self.notes) > _SHOWN_PROBLEMS:
            lines.append(f"note: ... and {len(self.notes) - _SHOWN_PROBLEMS} more")
        lines += self.cache
        if self.ok:
            lines.append("result: sound, no problems found")
            return "\n".join(lines)
        lines.append(f"result: {len(self.problems)} problem(s)")
        lines += [f"  - {problem}" for problem in self.problems[:_SHOWN_PROBLEMS]]
        if len(self.problems) > _SHOWN_PROBLEMS:
            lines.append(f"  ... and {len(self.problems) - _SHOWN_PROBLEMS} more")
        return "\n".join(lines)

    def _count_table(self) -> list[str]:
        lines = [f"{'split':<6}{'scenes':>7}{'LLLR':>7}{'x1':>6}{'x2':>6}{'x4':>6}  targets read from"]
        for split in SPLITS:
            if split not in self.lllr:
                lines.append(f"{split:<6}{'missing':>7}")
                continue
            targets = [self.targets[split].get(scale, 0) for scale in SCALES]
            folders = sorted(set(self.layout[split].values()))
            lines.append(
                f"{split:<6}{self.scenes[split]:>7}{self.lllr[split]:>7}"
                + "".join(f"{count:>6}" for count in targets)
                + f"  {', '.join(folders)}"
            )
        return lines

    def _ev_table(self) -> list[str]:
        evs = sorted({ev for counts in self.per_ev.values() for ev in counts}, reverse=True)
        lines = ["LLLR inputs per EV", f"{'split':<6}" + "".join(f"{ev:>7.1f}" for ev in evs)]
        for split, counts in self.per_ev.items():
            lines.append(f"{split:<6}" + "".join(f"{counts.get(ev, 0):>7}" for ev in evs))
        return lines


def check_dataset(root: str | Path, *, deep: bool = False) -> CheckReport:
    """Check the RELLISUR copy at ``root`` (the RELLISUR-Dataset folder or its parent).

    A missing ``root`` raises :class:`DatasetError`; everything else wrong becomes a line in ``problems``.
    """
    report = CheckReport(resolve_root(root), deep)
    split_of: dict[str, str] = {}
    files: dict[Path, None] = {}  # every image the loader would read, in order, once
    for split in SPLITS:
        for pair in _check_split(report, split, split_of):
            files.update({pair.lq_path: None, pair.gt_path: None})
    if deep:
        for path in tqdm(files, desc="decoding", unit="image"):
            try:
                read_png(path, _name(report.root, path))
            except DatasetError as err:
                _add(report, str(err))
    report.cache = _cache_lines(report.root, deep)
    report.problems = list(dict.fromkeys(report.problems))
    report.notes = list(dict.fromkeys(report.notes))
    return report


def _cache_lines(root: Path, deep: bool) -> list[str]:
    if env_cache_dir() == "off":
        return [f"cache: off ({CACHE_ENV}=off): the loader reads the PNGs"]
    cache_dir, statuses = cache_status(root, deep=deep)
    build = f"python -m lolisr_lib data cache {root}"
    if statuses is None:
        return [f"cache: none at {cache_dir} (optional, {build} builds it; {CACHE_ENV} names another folder)"]
    lines = [f"cache: {cache_dir}"]
    for status in statuses:
        if not status.images:
            lines.append(f"cache x{status.scale}: nothing to cache (the copy has no pair at this scale)")
        elif status.complete:
            lines.append(f"cache x{status.scale}: complete, {status.images} images, {status.array_bytes / 1e9:.2f} GB")
        else:
            lines.append(f"cache x{status.scale}: incomplete, {status.images - status.cached} of {status.images} "
                         f"images missing or changed; {build} --scales {status.scale} completes it")
    return lines


def _name(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def _add(report: CheckReport, problem: str) -> None:
    report.problems.append(problem)  # duplicates (one per scale) are dropped at the end of check_dataset


def _check_split(report: CheckReport, split: str, split_of: dict[str, str]) -> list[Pair]:
    """Fill in one split's counts and problems; return the pairs found at every scale."""
    split_dir = report.root / split
    indexes = {scale: scan_split(report.root, split, scale) for scale in SCALES}
    for index in indexes.values():
        for problem in index.problems:
            _add(report, problem)
    if not split_dir.is_dir():
        return []
    inputs, _ = scan_inputs(split_dir, split)
    _count_inputs(report, split, inputs, split_of)
    report.layout[split] = {scale: index.layout for scale, index in indexes.items()}
    report.targets[split] = {scale: len({p.gt_path for p in index.pairs}) for scale, index in indexes.items()}
    scenes = {scene for scene, _, _ in inputs}
    headers = {}  # path -> PngHeader or None, shared by the scales so each input is read once
    for scale, index in indexes.items():
        _check_target_names(report, split, scale, index.layout, scenes, {name for _, _, name in inputs})
        _check_headers(report, scale, index.pairs, headers)
    return [pair for index in indexes.values() for pair in index.pairs]


def _count_inputs(report: CheckReport, split: str, inputs, split_of: dict[str, str]) -> None:
    per_scene = Counter(scene for scene, _, _ in inputs)
    report.lllr[split] = len(inputs)
    report.scenes[split] = len(per_scene)
    report.per_ev[split] = dict(sorted(Counter(ev for _, ev, _ in inputs).items(), reverse=True))
    for scene, count in per_scene.items():
        if count != EXPOSURES_PER_SCENE:
            _add(report, f"{split}/LLLR/ holds {count} exposures of scene {scene}; every RELLISUR scene has "
                         f"{EXPOSURES_PER_SCENE}. Is the download complete?")
        if split_of.setdefault(scene, split) != split:
            _add(report, f"scene {scene} is in both {split_of[scene]}/ and {split}/; RELLISUR ids are unique "
                         f"across splits. Remove the copy that does not belong")


def _check_target_names(
    report: CheckReport, split: str, scale: int, layout: str, scenes: set, inputs: set
) -> None:
    """Files in the target folder that are misnamed or belong to no input."""
    folder = report.root / split / layout / f"X{scale}"
    if not layout or not folder.is_dir():
        return
    files, others = visible_files(folder)
    for name in files:
        where = f"{split}/{layout}/X{scale}/{name}"
        if layout == DUPLICATE_DIR:
            known, pattern = parse_lllr_name(name) is not None, "{id}-{ev}.png such as 00018-2.5.png"
            orphan = known and name not in inputs
        else:
            known, pattern = parse_target_name(name) is not None, "{id}.png such as 00018.png"
            orphan = known and parse_target_name(name) not in scenes
        if not known:
            _add(report, f"{where} is not a RELLISUR target name; expected {pattern}. Rename or remove it")
        elif orphan:
            _add(report, f"{where} has no input in {split}/LLLR/. Is the download complete?")
    for name in others:
        _add(report, f"{split}/{layout}/X{scale}/{name} is not a file; this folder holds only images. Move it")


def _check_headers(report: CheckReport, scale: int, pairs: list[Pair], headers: dict) -> None:
    """Bit depth, colour type and size of every input and target, from the PNG headers alone."""
    for pair in pairs:
        for path in (pair.lq_path, pair.gt_path):
            if path not in headers:
                headers[path] = _header(report, path)
        lq, gt = headers[pair.lq_path], headers[pair.gt_path]
        if lq is None or gt is None:
            continue
        expected = (scale * lq.height, scale * lq.width)
        if (gt.height, gt.width) != expected:
            lq_name, gt_name = _name(report.root, pair.lq_path), _name(report.root, pair.gt_path)
            _add(report, f"{gt_name} is {gt.height} x {gt.width} but {lq_name} is {lq.height} x {lq.width}; "
                         f"an x{scale} target must be exactly {expected[0]} x {expected[1]}. "
                         f"Restore both from the download")


def _header(report: CheckReport, path: Path):
    """The PNG header of ``path``, or None after recording why it cannot be used."""
    name = _name(report.root, path)
    try:
        header = read_png_header(path, name)
    except DatasetError as err:
        _add(report, str(err))
        return None
    problem = header_problem(header, name)
    if problem:
        _add(report, problem)
        return None
    if header.color_type == 6:
        report.notes.append(f"{name} has an alpha channel, accepted only if fully opaque (--deep checks that)")
    return header
