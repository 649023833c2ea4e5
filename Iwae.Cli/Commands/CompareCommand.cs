using System.CommandLine;
using Iwae.Autodiff;
using Iwae.Cli.Report;
using Iwae.Core.Estimators;
using Iwae.Core.Models;
using Iwae.Core.Training;
using Iwae.Experiments.Sweeps;
using Iwae.Experiments;
using static Iwae.Cli.Commands.CliOptions;

namespace Iwae.Cli.Commands;

/// <summary>`iwae compare [--sweep SHAPES]`: <see cref="Runs.Compare"/>, once or per encoder shape, then the table, figures and report.</summary>
internal static class CompareCommand
{
    public static Command Create(CliIo io)
    {
        var cmd = new Command("compare", $"Train a VAE and an IWAE with the same architecture, k, seed and schedule on the data, evaluate both (test NLL at --eval-k, 5000 by default; bounds; active units), print them side by side, and write figures and report.html to --out. The end of each stage measures the test NLL on the first {RunSettings.DefaultStageEvalImages} test images at k = min(--eval-k, {RunSettings.DefaultStageEvalK}) (the learning curve).")
            .With(Training).With(EvalK, Sweep);
        cmd.SetAction(p => io.Guard(() =>
        {
            var (config, options, settings) = p.ReadTraining(ModelKind.Iwae);
            OutputFiles.Check(inputs: [("--data", settings.Data)], files: [], folders: [("--out", settings.OutDir)]);
            var view = p.GetResult(Sweep) is null ? ProgressView.For(io.Out) : null;
            using var execution = p.ReadExecution(io, view);
            if (view is not null) return CompareOne(io, view, config, options, settings, execution);

            // A sweep of shapes is the sweep mechanism run here: a VAE and an IWAE per shape, one run folder each.
            var sweep = new SweepFolder(settings.OutDir!);
            var baseline = new SweepRunOptions { Config = config, Train = options, Data = settings.Data, TestFraction = settings.TestFraction, EvalK = settings.EvalK };
            var plan = SweepPlanner.Shapes(baseline, SweepReport.ParseSpec(p.GetValue(Sweep) ?? SweepReport.DefaultSpec));
            Runs.LoadData(settings, config.Observation);        // bad data: one line, before anything is written
            sweep.WritePlan(plan);
            io.Out.WriteLine($"iwae compare --sweep: {plan.Runs.Count} runs -> {sweep.Path}");
            var outcomes = SweepRunner.RunAll(sweep, parallel: 1, execution, io.Out.WriteLine);
            if (outcomes.FirstOrDefault(o => o.Kind is SweepOutcomeKind.Failed or SweepOutcomeKind.FailedBefore) is { } failed)
            {
                io.Err.WriteLine($"iwae: {failed.Message}");
                return IwaeCommand.Diverged;
            }
            return io.WriteFigures(sweep.Path, () =>
            {
                foreach (var run in plan.Runs) RunReport.Write(sweep.Run(run).Path, null, io.Out.WriteLine);
                return SweepReport.Write(sweep, io.Out.WriteLine);
            });
        }));
        return cmd;
    }

    /// <summary>One comparison with its progress display, table, figures and report.</summary>
    private static int CompareOne(CliIo io, ProgressView view, ModelConfig config, TrainOptions options, RunSettings settings, Execution execution)
    {
        string est = options.Estimator == GradientEstimator.Iwae ? "" : $", IWAE estimator {options.Estimator.ToString().ToLowerInvariant()}";
        io.Out.WriteLine($"iwae compare: {config.Architecture}{est}, k={config.K}, {options.TotalEpochs} epochs, batch {options.BatchSize}, seed {options.Seed}, {execution.Threads} threads -> {settings.OutDir}");
        var results = view.Run(() => Runs.Compare(config, options, settings, execution, view.Log));
        io.Out.WriteLine();
        io.Out.Write(Output.Table(results));
        io.Out.WriteLine($"results: {settings.Folder!.Results}");
        return io.WriteFigures(settings.OutDir!, () => RunReport.Write(settings.OutDir!, settings.Data, io.Out.WriteLine));
    }
}
