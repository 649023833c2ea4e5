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

/// <summary>
/// `iwae compare [--sweep SHAPES]`: <see cref="Runs.CompareAndAnalyze"/> (then the table), or per encoder shape
/// <see cref="Runs.CompareShapes"/>; then the figures and reports.
/// </summary>
internal static class CompareCommand
{
    public static Command Create(CliIo io)
    {
        var cmd = new Command("compare", $"Train a VAE and an IWAE with the same architecture, k, seed and schedule on the data, evaluate both (test NLL at --eval-k, 5000 by default; bounds; active units), print them side by side, and write figures and report.html to --out. The end of each stage measures the test NLL on the first {RunSettings.DefaultStageEvalImages} test images at k = min(--eval-k, {RunSettings.DefaultStageEvalK}) (the learning curve).")
            .With(Training).With(EvalK, Sweep);
        cmd.SetAction(p => io.Guard(p, () =>
        {
            var (config, options, settings) = p.ReadTraining(ModelKind.Iwae);
            var view = p.GetResult(Sweep) is null ? ProgressView.For(io.Out) : null;
            using var execution = p.ReadExecution(io, view);
            if (view is not null) return CompareOne(io, view, config, options, settings, execution);

            var shapes = SweepReport.ParseSpec(p.GetValue(Sweep) ?? SweepReport.DefaultSpec);
            var sweep = Runs.CompareShapes(config, options, settings, shapes, execution, io.Out.WriteLine);
            if (sweep.Failed is { } failed)
            {
                io.Err.WriteLine($"iwae: {failed.Message}");
                return failed.Cause == SweepFailureCause.NonFinite ? IwaeCommand.Diverged : IwaeCommand.BadInput;
            }
            return io.WriteFigures(sweep.Sweep.Path, () => RunReport.Write(sweep.Analysis!, io.Out.WriteLine));
        }));
        return cmd;
    }

    /// <summary>One comparison with its progress display, table, figures and report.</summary>
    private static int CompareOne(CliIo io, ProgressView view, ModelConfig config, TrainOptions options, RunSettings settings, Execution execution)
    {
        string est = options.Estimator == GradientEstimator.Iwae ? "" : $", IWAE estimator {options.Estimator.ToString().ToLowerInvariant()}";
        io.Out.WriteLine($"iwae compare: {config.Architecture}{est}, k={config.K}, {options.TotalEpochs} epochs, batch {options.BatchSize}, seed {options.Seed}, {execution.Threads} threads -> {settings.OutDir}");
        var run = view.Run(() => Runs.CompareAndAnalyze(config, options, settings, execution, view.Log));
        io.Out.WriteLine();
        io.Out.Write(Output.Table(run.Results));
        io.Out.WriteLine(Output.Schedule(options));
        foreach (var m in run.Results.Models)
            if (Output.Validation(m) is { } validation) io.Out.WriteLine(validation);
        io.Out.WriteLine($"results: {settings.Folder!.Results}");
        return io.WriteFigures(settings.OutDir!, () => RunReport.Write(run, io.Out.WriteLine));
    }
}
