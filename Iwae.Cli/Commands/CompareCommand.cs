using System.CommandLine;
using Iwae.Cli.Report;
using Iwae.Core;
using static Iwae.Cli.Commands.CliOptions;

namespace Iwae.Cli.Commands;

/// <summary>`iwae compare [--sweep SHAPES]`: <see cref="Runs.Compare"/>, once or per encoder shape, then the table, figures and report.</summary>
internal static class CompareCommand
{
    public static Command Create(CliIo io)
    {
        var cmd = new Command("compare", "Train a VAE and an IWAE with the same architecture, k, seed and schedule on the data, evaluate both (test NLL at k=5000, bounds, active units), print them side by side, and write figures and report.html to --out.")
            .With(Training).With(EvalK, Sweep);
        cmd.SetAction(p => io.Guard(() =>
        {
            var (config, options, settings) = p.ReadTraining(ModelKind.Iwae);
            if (p.GetResult(Sweep) is null) return CompareOne(io, config, options, settings);

            int[][] sweep = SweepReport.ParseSpec(p.GetValue(Sweep) ?? SweepReport.DefaultSpec);
            string sweepDir = settings.OutDir!;
            Directory.CreateDirectory(sweepDir);
            var folders = new List<string>();
            foreach (var hidden in sweep)
            {
                string folder = SweepReport.FolderName(hidden);
                int code = CompareOne(io, config with { Hidden = hidden }, options, settings with { OutDir = Path.Combine(sweepDir, folder) });
                if (code != 0) return code;
                folders.Add(folder);
                SweepReport.WriteIndex(sweepDir, folders);   // a sweep cut short still has an index of what finished
                io.Out.WriteLine();
            }
            return io.WriteFigures(sweepDir, () => SweepReport.Write(sweepDir, io.Out.WriteLine));
        }));
        return cmd;
    }

    /// <summary>One comparison with its progress display, table, figures and report.</summary>
    private static int CompareOne(CliIo io, ModelConfig config, TrainOptions options, RunSettings settings)
    {
        var view = ProgressView.For(io.Out);
        string est = options.Estimator == GradientEstimator.Iwae ? "" : $", IWAE estimator {options.Estimator.ToString().ToLowerInvariant()}";
        io.Out.WriteLine($"iwae compare: {config.Architecture}{est}, k={config.K}, {options.TotalEpochs} epochs, batch {options.BatchSize}, seed {options.Seed}, {options.Threads} threads -> {settings.OutDir}");
        var results = view.Run(() => Runs.Compare(config, options, settings with { Progress = view.Report }, view.Log, io.Cancel));
        io.Out.WriteLine();
        io.Out.Write(Output.Table(results));
        io.Out.WriteLine($"results: {settings.Folder!.Results}");
        return io.WriteFigures(settings.OutDir!, () => RunReport.Write(settings.OutDir!, settings.Data, io.Out.WriteLine));
    }
}
