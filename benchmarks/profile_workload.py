"""Where assetflow's time goes in one workload: py-spy samples of the whole process, aggregated.

    python benchmarks/profile_workload.py w2              # io none, 200 Hz, 3 runs, top 20
    python benchmarks/profile_workload.py w1 --io duckdb --top 30
    python benchmarks/profile_workload.py w4 --quick      # seeds, then profiles `status --json`
    python benchmarks/profile_workload.py w2 --raw /tmp/w2.raw   # keep the raw samples
    python benchmarks/profile_workload.py w4 --folder DIR --command plan '*' --json

It generates the workload (workloads.py) in a temp folder, runs the same command as run.py
(``python -m assetflow ...`` from a fresh state) under ``py-spy record -f raw --threads --idle``,
checks the run succeeded, then prints for each thread group (main thread, step workers, the
recorder): samples as seconds of wall time, the top functions by inclusive time (a function
counted once per sample it is on the stack of) and by own time (the sample's leaf frame), and for
the main thread the phases (imports, project load, plan, run). ``--idle`` is on, so waiting shows
up as time in ``wait``/``acquire``/``sleep``: the main thread's numbers add up to the wall time.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import workloads  # noqa: E402
from run import AF, reset, run_timed  # noqa: E402

_FRAME = re.compile(r"^(?P<fn>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")

# Main-thread phases, by priority: the first key found anywhere on a sample's stack names the
# sample's phase (import machinery first, wherever it runs).
PHASES = (
    ("_find_and_load", "imports"),
    ("PlanRunner.run", "run: scheduling steps, waiting for workers"),
    ("Recorder.close", "run: final state write (Recorder.close)"),
    ("Recorder.flush", "run: state write at run start (Recorder.flush)"),
    ("StateStore.snapshot", "read the status snapshot (StateStore.snapshot)"),
    ("StateStore.durations", "read durations for estimates"),
    ("StateStore.create_backfill", "backfill bookkeeping (create/update)"),
    ("StateStore.update_backfill", "backfill bookkeeping (create/update)"),
    ("build_plan", "build the plan"),
    ("StatusEvaluator.evaluate", "evaluate statuses"),
    ("resolve_targets", "resolve targets"),
    ("Project.load", "load project (config, module, graph, code versions)"),
    ("Warehouse.__init__", "open/close the warehouse"),
    ("Warehouse.close", "open/close the warehouse"),
    ("execute", "run: other"),
    ("status_counts", "status: counting"),
    ("print_json", "print JSON"),
)


def short(frame: str) -> str:
    match = _FRAME.match(frame)
    if not match:
        return frame
    path = match["file"]
    for marker in ("site-packages/", "/lib/python3."):
        if marker in path:
            path = path.split(marker, 1)[1]
            if marker.startswith("/lib"):
                path = path.split("/", 1)[-1]
    return f"{match['fn']} ({path})"


def group_of(thread: str) -> str:
    if "MainThread" in thread:
        return "main thread"
    if "recorder" in thread:
        return "recorder thread"
    if "ThreadPoolExecutor" in thread:
        return "step worker threads"
    return "other threads"


def phase_of(frames: list[str]) -> str:
    names = {f.split(" (", 1)[0] for f in frames}
    for key, label in PHASES:
        if key in names:
            return label
    return "other (interpreter, CLI parsing, exit)"


# Frames every sample passes through (entry points, Typer, thread start-up, import machinery):
# left out of the inclusive table, where they would only push the interesting rows down.
_WRAPPERS = ("typer/", "<frozen ", "threading.py", "concurrent/futures/", "assetflow/__main__.py")
_ENTRY = ("main (assetflow/cli/__init__.py)", "run (assetflow/cli/__init__.py)")


def is_wrapper(name: str) -> bool:
    return name in _ENTRY or any(marker in name for marker in _WRAPPERS)


def imported_package(frames: list[str]) -> str:
    """The first package that is not assetflow whose module body is on the stack."""
    for frame in frames:
        if frame.startswith("<module> ("):
            path = short(frame).split("(", 1)[1].rstrip(")")
            top = path.split("/", 1)[0]
            if top not in ("assetflow", "<frozen runpy>"):
                return top.removesuffix(".py")
    return "assetflow (own modules)"


def aggregate(raws: list[Path], rate: int, top: int) -> str:
    """Tables of the samples in ``raws`` (one file per repetition), in seconds per run."""
    groups: dict[str, list[tuple[list[str], int]]] = defaultdict(list)
    runs = len(raws)
    for raw in raws:
        lines = [line.rpartition(" ") for line in raw.read_text().splitlines()]
        # py-spy names a thread only when it could read the name: map ids to names first.
        names: dict[str, str] = {}
        for stack, _, _ in lines:
            head = stack.split(";", 1)[0]
            thread_id, _, name = head.partition(": ")
            if name:
                names[thread_id] = name
        for stack, _, count in lines:
            if not stack or not count.isdigit():
                continue
            frames = stack.split(";")
            thread_id = frames[0].partition(": ")[0]
            groups[group_of(names.get(thread_id, thread_id))].append((frames[1:], int(count)))
    rate = rate * runs  # so that n / rate is seconds per run
    out: list[str] = []
    for group in ("main thread", "step worker threads", "recorder thread", "other threads"):
        samples = groups.get(group)
        if not samples:
            continue
        total = sum(n for _, n in samples)
        out.append(
            f"\n### {group}: {total} samples, {total / rate:.3f} s per run (idle included)\n"
        )
        if group == "main thread":
            phases: Counter[str] = Counter()
            for frames, n in samples:
                phases[phase_of(frames)] += n
            out.append("| phase | s | % |\n|---|---|---|")
            for label, n in phases.most_common():
                out.append(f"| {label} | {n / rate:.3f} | {100 * n / total:.1f} |")
            out.append("")
            packages: Counter[str] = Counter()
            for frames, n in samples:
                if phase_of(frames) == "imports":
                    packages[imported_package(frames)] += n
            out.append("Imports by package (the first non-assetflow module on the stack):\n")
            out.append("| package | s | % of main thread |\n|---|---|---|")
            for label, n in packages.most_common(12):
                out.append(f"| {label} | {n / rate:.3f} | {100 * n / total:.1f} |")
            out.append("")
        inclusive: Counter[str] = Counter()
        own: Counter[str] = Counter()
        for frames, n in samples:
            names = [short(f) for f in frames]
            for name in set(names):
                if not is_wrapper(name):
                    inclusive[name] += n
            if names:
                own[names[-1]] += n
        out.append(
            f"Top {top} by inclusive time (entry points, Typer, threading and import machinery "
            "left out):\n\n| function | s | % |\n|---|---|---|"
        )
        for name, n in inclusive.most_common(top):
            out.append(f"| `{name}` | {n / rate:.3f} | {100 * n / total:.1f} |")
        out.append(f"\nTop {top} by own time:\n\n| function | s | % |\n|---|---|---|")
        for name, n in own.most_common(top):
            out.append(f"| `{name}` | {n / rate:.3f} | {100 * n / total:.1f} |")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="py-spy profile of one benchmark workload")
    parser.add_argument("workload", choices=workloads.WORKLOADS)
    parser.add_argument("--io", choices=workloads.IOS, default="none")
    parser.add_argument("--rate", type=int, default=200, help="samples per second (default 200)")
    parser.add_argument("--repeat", type=int, default=3, help="profiled runs, aggregated (3)")
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="w4 at 100 x 100")
    parser.add_argument("--raw", type=Path, help="keep the raw samples in this file")
    parser.add_argument(
        "--folder",
        type=Path,
        help="profile in this existing workload folder as it is (e.g. from run.py --workdir): "
        "no generation, no reset; for read-only commands such as status and plan",
    )
    parser.add_argument("--no-plain", action="store_true", help="skip the unprofiled run")
    parser.add_argument("--command", nargs=argparse.REMAINDER, help="assetflow arguments instead")
    args = parser.parse_args(argv)
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    as_is = args.folder is not None
    folder = args.folder or Path(tempfile.mkdtemp(prefix=f"profile-{args.workload}-"))
    try:
        if not as_is:
            workloads.generate(args.workload, args.io, folder, quick=args.quick)
            reset(folder)
        spec = workloads.load(folder)
        command = args.command or spec["command"]
        if args.workload == "w4" and not args.command and not as_is:
            print("seeding w4 ...", file=sys.stderr)
            workloads.seed_w4(folder, progress=False)
        state = folder / ".assetflow"
        seeded = folder / "seeded-state"
        if state.exists() and not as_is:  # w4: every repetition starts from the seeded history
            shutil.copytree(state, seeded)
        # One unprofiled run for the wall time (and warm caches).
        plain = None if args.no_plain else run_timed([*AF, *command], folder).check("unprofiled")
        raws: list[Path] = []
        for i in range(args.repeat):
            if not as_is:
                reset(folder)
            if seeded.exists() and not as_is:
                shutil.copytree(seeded, state)
            raw = (args.raw or folder / "profile.raw").with_suffix(f".{i}.raw")
            proc = subprocess.run(
                [
                    py_spy,
                    "record",
                    "-f",
                    "raw",
                    "-t",
                    "-i",
                    "-r",
                    str(args.rate),
                    "-o",
                    str(raw),
                    "--",
                    *AF,
                    *command,
                ],
                cwd=folder,
                capture_output=True,
                text=True,
            )
            if proc.returncode != 0:
                print(proc.stderr[-3000:], file=sys.stderr)
                print(f"FAIL: the profiled command exited {proc.returncode}", file=sys.stderr)
                return 1
            raws.append(raw)
        print(
            f"## py-spy profile: `assetflow {' '.join(command)}`\n\n"
            f"{spec['description']}, io={spec['io']}; {args.repeat} run(s) at {args.rate} Hz "
            "with idle threads" + (f"; unprofiled wall time {plain.seconds:.3f} s" if plain else "")
        )
        print(aggregate(raws, args.rate, args.top))
    finally:
        if not as_is:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
