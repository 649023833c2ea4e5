using Iwae.Autodiff;
using Iwae.Core.Models;
using Iwae.Core.Training;
using Iwae.Experiments.Sweeps;

namespace Iwae.Experiments;

/// <summary>How `compare --sweep` ended: every run's outcome and, when none failed, what the reports show.</summary>
/// <param name="Sweep">The sweep folder the runs went to.</param>
/// <param name="Outcomes">One per run, in the plan's order.</param>
/// <param name="Analysis">Every run's analysis and the sweep's; null when a run failed.</param>
public sealed record ShapesComparison(SweepFolder Sweep, IReadOnlyList<SweepRunOutcome> Outcomes, FolderAnalysis? Analysis)
{
    /// <summary>The first run that failed (now or before), or null.</summary>
    public SweepRunOutcome? Failed => Outcomes.FirstOrDefault(o => o.Kind is SweepOutcomeKind.Failed or SweepOutcomeKind.FailedBefore);
}

public static partial class Runs
{
    /// <summary>
    /// `iwae compare`: checks the paths (<see cref="OutputFiles.Check"/>: --out is not the data), then
    /// <see cref="Compare"/> into <see cref="RunSettings.OutDir"/>, then reads that run folder back as `iwae plot` does
    /// (<see cref="RunAnalysis.Read"/>): results.json's figures and what the report draws.
    /// </summary>
    /// <exception cref="ArgumentException"><see cref="RunSettings.OutDir"/> is not given: the analysis reads the run folder.</exception>
    public static RunAnalysis CompareAndAnalyze(ModelConfig config, TrainOptions options, RunSettings settings, Execution? execution = null,
        Action<string>? log = null)
    {
        string outDir = settings.OutDir ?? throw new ArgumentException("a comparison is analysed from its run folder; give an output folder");
        OutputFiles.Check(inputs: [("--data", settings.Data)], files: [], folders: [("--out", outDir)]);
        Compare(config, options, settings, execution, log);
        return RunAnalysis.Read(outDir, settings.Data, log);
    }

    /// <summary>
    /// `iwae compare --sweep`: a VAE and an IWAE per encoder shape (<see cref="SweepPlanner.Shapes"/>), planned into the
    /// sweep folder <see cref="RunSettings.OutDir"/> and run here one after the other by the sweep runner
    /// (<see cref="SweepRunner.RunAll"/>, as `sweep run --all` does), so that running it again skips the finished runs
    /// and resumes an interrupted one. The data are read once before anything is written, to give each run its input
    /// size (<see cref="SweepPlanner.WithData(SweepPlan)"/>); bad data or paths write nothing. When every run is done,
    /// each run folder and the sweep are read back as `iwae plot` reads them (<see cref="FolderAnalysis.Read"/>).
    /// </summary>
    /// <param name="config">The model of every run; its hidden widths are replaced by each shape's.</param>
    /// <param name="options">The training of every run (a VAE keeps the plain ELBO gradient).</param>
    /// <param name="settings">Data, evaluation and the sweep folder (<see cref="RunSettings.OutDir"/>, required).</param>
    /// <param name="shapes">Encoder hidden widths, one array per shape (<see cref="SweepPlanner.ParseShape"/>).</param>
    /// <param name="execution">Threads and cancellation, which stops the current run after its checkpoint
    /// (<see cref="OperationCanceledException"/>). Null: <see cref="Execution.Serial"/>.</param>
    /// <param name="log">Progress lines.</param>
    public static ShapesComparison CompareShapes(ModelConfig config, TrainOptions options, RunSettings settings, IReadOnlyList<int[]> shapes,
        Execution? execution = null, Action<string>? log = null)
    {
        string outDir = settings.OutDir ?? throw new ArgumentException("a sweep of shapes needs a folder to plan into; give an output folder");
        OutputFiles.Check(inputs: [("--data", settings.Data)], files: [], folders: [("--out", outDir)]);
        var baseline = new SweepRunOptions { Config = config, Train = options, Data = settings.Data, TestFraction = settings.TestFraction, EvalK = settings.EvalK };
        var plan = SweepPlanner.WithData(SweepPlanner.Shapes(baseline, shapes));
        var sweep = new SweepFolder(outDir);
        sweep.WritePlan(plan);
        log?.Invoke($"iwae compare --sweep: {plan.Runs.Count} runs -> {sweep.Path}");
        var outcomes = SweepRunner.RunAll(sweep, parallel: 1, execution, log);
        var comparison = new ShapesComparison(sweep, outcomes, null);
        return comparison.Failed is null ? comparison with { Analysis = FolderAnalysis.Read(sweep.Path, data: null, log) } : comparison;
    }
}
