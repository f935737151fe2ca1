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
    ScreenSpec("home", "1", "Home", "mathbench.tui.screens.home:HomeScreen", "Workspace overview: runs, datasets, jobs"),
    ScreenSpec("eval", "2", "Eval", "mathbench.tui.screens.eval:EvalScreen", "Start or watch an eval run"),
    ScreenSpec("results", "3", "Results", "mathbench.tui.screens.results:ResultsScreen", "Browse every item of a run"),
    ScreenSpec("adjudicate", "4", "Adjudicate", "mathbench.tui.screens.adjudicate:AdjudicateScreen", "Settle uncertain answers by keyboard"),
    ScreenSpec("report", "5", "Report", "mathbench.tui.screens.report:ReportScreen", "Accuracy charts and run-vs-run comparison"),
    ScreenSpec("dataset", "6", "Data", "mathbench.tui.screens.dataset:DatasetScreen", "Browse, edit, validate SFT data"),
    ScreenSpec("compose", "7", "Compose", "mathbench.tui.screens.compose:ComposeScreen", "Write a new item with a model's help"),
    ScreenSpec("synth", "8", "Synth", "mathbench.tui.screens.synth:SynthScreen", "Synthesize items with a teacher model"),
    ScreenSpec("train", "9", "Train", "mathbench.tui.screens.train:TrainScreen", "Launch and watch LLaMA-Factory training"),
    ScreenSpec("serve", "0", "Serve", "mathbench.tui.screens.serve:ServeScreen", "Launch and watch a vLLM server"),
    ScreenSpec("jobs", "j", "Jobs", "mathbench.tui.screens.jobs:JobsScreen", "Detached jobs: list, attach, stop"),
    ScreenSpec("gpu", "g", "GPU", "mathbench.tui.screens.gpu:GpuScreen", "GPU utilisation, memory and processes"),
)
