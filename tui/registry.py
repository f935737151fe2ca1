"""The workbench's screens: key, title and where each lives, imported only when first shown."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ScreenSpec:
    """One screen of the workbench, loaded lazily from `target` ("module:Class")."""

    name: str
    key: str
    title: str
    target: str
    description: str


SCREENS: tuple[ScreenSpec, ...] = (
    ScreenSpec("home", "1", "Home", "tui.screens.home:HomeScreen", "Workspace overview: runs, datasets, jobs"),
    ScreenSpec("eval", "2", "Eval", "tui.screens.eval:EvalScreen", "Start or watch an eval run"),
    ScreenSpec("results", "3", "Results", "tui.screens.results:ResultsScreen", "Browse every item of a run"),
    ScreenSpec("adjudicate", "4", "Adjudicate", "tui.screens.adjudicate:AdjudicateScreen", "Settle uncertain answers by keyboard"),
    ScreenSpec("report", "5", "Report", "tui.screens.report:ReportScreen", "Accuracy charts and run-vs-run comparison"),
    ScreenSpec("dataset", "6", "Data", "tui.screens.dataset:DatasetScreen", "Browse, edit, validate SFT data"),
    ScreenSpec("compose", "7", "Compose", "tui.screens.compose:ComposeScreen", "Write a new item with a model's help"),
    ScreenSpec("synth", "8", "Synth", "tui.screens.synth:SynthScreen", "Synthesize items with a teacher model"),
    ScreenSpec("train", "9", "Train", "tui.screens.train:TrainScreen", "Launch and watch LLaMA-Factory training"),
    ScreenSpec("serve", "0", "Serve", "tui.screens.serve:ServeScreen", "Launch and watch a vLLM server"),
    ScreenSpec("jobs", "j", "Jobs", "tui.screens.jobs:JobsScreen", "Detached jobs: list, attach, stop"),
    ScreenSpec("gpu", "g", "GPU", "tui.screens.gpu:GpuScreen", "GPU utilisation, memory and processes"),
)
