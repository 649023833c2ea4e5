using System.Globalization;
using Iwae.Autodiff;
using Iwae.Core.Data;

namespace Iwae.Core;

/// <summary>What `iwae score` wrote: the file, its rows and their mean log p(x) estimate (-NLL, as `iwae eval` prints it).</summary>
/// <param name="Path">The CSV file.</param>
/// <param name="Rows">Examples scored.</param>
/// <param name="MeanLogPx">Mean of the log_px column.</param>
public sealed record ScoreSummary(string Path, int Rows, double MeanLogPx);

/// <summary>The call behind `iwae score`: per-example log p(x) estimates and their standard errors, as CSV.</summary>
public static class ScoreRuns
{
    /// <summary>The CSV's header line.</summary>
    public const string Header = "index,log_px,stderr";

    /// <summary>Suffix of the file the rows stream to before it is renamed to its own name.</summary>
    public const string PartSuffix = ".part";

    /// <summary>
    /// `iwae score`: loads the checkpoint and the <paramref name="split"/> of <see cref="RunSettings.Data"/> (binarised as
    /// `iwae eval` does the test split, with the same fixed seed), then scores every example with k = <see cref="RunSettings.EvalK"/> (<see cref="Scoring.Score"/>, seed 42 as
    /// in eval, so the rows' mean is eval's -NLL at that k). Rows are written as they come, in order, to
    /// <paramref name="outPath"/> + <see cref="PartSuffix"/>, flushed row by row, and that file is renamed to
    /// <paramref name="outPath"/> once complete; on failure it is deleted. CSV: <see cref="Header"/>, then one line per example
    /// (index from 0, L_k and its standard error in nats, round-trip formatted; the error is NaN at k = 1).
    /// </summary>
    /// <param name="checkpoint">The model, read once (<see cref="RunCheckpoint.Read"/>).</param>
    /// <param name="settings">The data and k; their <see cref="RunSettings.Data"/> null means the embedded subset.</param>
    /// <param name="outPath">The CSV file.</param>
    /// <param name="split">Which examples: the test split (as eval), the training split, or all of them in file order.</param>
    /// <param name="compute">The threads (default: the current context).</param>
    /// <param name="cancel">Stops the scoring between chunks (<see cref="OperationCanceledException"/>; the part file is deleted).</param>
    public static ScoreSummary Run(RunCheckpoint checkpoint, RunSettings settings, string outPath, DataSplit split = DataSplit.Test, ComputeContext? compute = null,
        CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentException.ThrowIfNullOrEmpty(outPath);
        if (settings.EvalK < 1) throw new ArgumentException($"k must be >= 1, got {settings.EvalK}");
        var model = checkpoint.Model();
        var data = Runs.LoadData(settings, model.Config);
        var x = split switch
        {
            DataSplit.Test => data.TestX,
            DataSplit.Train => data.Prepared(data.Train),
            _ => data.Prepared(data.All()),
        };
        string part = outPath + PartSuffix;
        double sum = 0;
        try
        {
            using (var w = new StreamWriter(part, append: false) { AutoFlush = true, NewLine = "\n" })
            {
                w.WriteLine(Header);
                var progress = EvalProgress.For(settings, RunFolder.ModelName(model.Config.Model), RunPhase.Eval, x.Rows);
                Scoring.Score(model, x, settings.EvalK, (i, logPx, se) =>
                {
                    w.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{i},{logPx:R},{se:R}"));
                    sum += logPx;
                }, progress: progress, compute: compute, cancel: cancel);
            }
            File.Move(part, outPath, overwrite: true);
        }
        catch
        {
            Checkpoints.SafeTensors.TryDelete(part);
            throw;
        }
        return new ScoreSummary(outPath, x.Rows, sum / x.Rows);
    }
}
