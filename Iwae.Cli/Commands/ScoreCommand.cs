using System.CommandLine;
using System.Globalization;
using Iwae.Autodiff;
using Iwae.Core.Checkpoints;
using Iwae.Core;
using Iwae.Datasets;
using Iwae.Experiments;
using static Iwae.Cli.Commands.CliOptions;

namespace Iwae.Cli.Commands;

/// <summary>`iwae score --checkpoint FILE --out FILE [--k K] [--data D]`: <see cref="ScoreRuns.Run"/>.</summary>
internal static class ScoreCommand
{
    public static Command Create(CliIo io)
    {
        var cmd = new Command("score", "Score each example of the test split (--split train or all for others; of the checkpoint's data, or of --data): its log p(x) estimate L_k (--eval-k samples, alias --k, the same draws as eval) and the Monte Carlo standard error, as CSV streamed to <out>.part and renamed to --out when complete. Columns: split (train or test); row, where the example is in its file, counted from 1: a CSV's or .amat's line (header and blank lines counted), an .npy/.npz array's row, a .mat variable's column, an IDX image (the line printed at the end says which); log_px (L_k, nats); stderr (NaN at k=1).")
            .With(CheckpointFile, EvalKOrK, Data, Split, Threads, OutFile);
        cmd.SetAction(p => io.Guard(p, () =>
        {
            var split = p.GetValue(Split)!.ToLowerInvariant() switch
            {
                "test" => DataSplit.Test,
                "train" => DataSplit.Train,
                "all" => DataSplit.All,
                var other => throw new ArgumentException($"--split must be test, train or all, got '{other}'"),
            };
            var checkpoint = RunCheckpoint.Read(p.GetValue(CheckpointFile)!);
            var settings = checkpoint.Settings(data: p.DataSpec()) with { EvalK = p.GetValue(EvalKOrK) };
            var view = ProgressView.For(io.Out);
            using var execution = p.ReadExecution(io, view);
            var s = view.Run(() => ScoreRuns.Run(checkpoint, settings, p.GetValue(OutFile)!, split, execution));
            io.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"scores: {s.Path} ({s.Rows} examples, k={settings.EvalK}, mean log p(x) {s.MeanLogPx:F2})"));
            io.Out.WriteLine(s.RowMeaning);
            return 0;
        }, interrupted: $"iwae: interrupted; {p.GetValue(OutFile)} was not written"));
        return cmd;
    }
}
