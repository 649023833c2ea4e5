using System.Globalization;
using Iwae.Autodiff;
using Iwae.Core.Checkpoints;
using Iwae.Core.Data;
using Iwae.Core.Training;
using Iwae.Core;
using Iwae.Datasets;

namespace Iwae.Experiments;

/// <summary>What `iwae score` wrote: the file, its rows and their mean log p(x) estimate (-NLL, as `iwae eval` prints it).</summary>
/// <param name="Path">The CSV file.</param>
/// <param name="Rows">Examples scored.</param>
/// <param name="MeanLogPx">Mean of the log_px column.</param>
/// <param name="RowMeaning">What the row column counts, per split scored: "row: the line in /d/x.csv (from 1, header
/// and blank lines counted)".</param>
public sealed record ScoreSummary(string Path, int Rows, double MeanLogPx, string RowMeaning = "");

/// <summary>The call behind `iwae score`: per-example log p(x) estimates and their standard errors, as CSV.</summary>
public static class ScoreRuns
{
    /// <summary>
    /// The CSV's header line: the example's split (train or test) and its row in its source file as a person counts
    /// (<see cref="DataOrigin"/>: a CSV's or .amat's line, header included; an array's row; a MAT variable's column; an
    /// IDX image; from 1), then L_k and its standard error.
    /// </summary>
    public const string Header = "split,row,log_px,stderr";

    /// <summary>Suffix of the file the rows stream to before it is renamed to its own name.</summary>
    public const string PartSuffix = ".part";

    /// <summary>
    /// `iwae score`: loads the checkpoint and the <paramref name="split"/> of <see cref="RunSettings.Data"/> (binarised as
    /// `iwae eval` does the test split, with the same fixed seed), then scores every example with k = <see cref="RunSettings.EvalK"/> (<see cref="Scoring.Score"/>, seed 42 as
    /// in eval, so the rows' mean is eval's -NLL at that k). Rows are written as they come, in order, to
    /// <paramref name="outPath"/> + <see cref="PartSuffix"/>, flushed row by row, and that file is renamed to
    /// <paramref name="outPath"/> once complete; on failure it is deleted. <paramref name="outPath"/> is checked first: it may
    /// not be the checkpoint or the data (<see cref="OutputFiles.Check"/>); its folder is created if missing. CSV: <see cref="Header"/>,
    /// then one line per example in split order (its split and row, see <see cref="Header"/>; L_k and its standard error in
    /// nats, round-trip formatted; the error is NaN at k = 1).
    /// </summary>
    /// <param name="checkpoint">The model, read once (<see cref="RunCheckpoint.Read"/>).</param>
    /// <param name="settings">The data and k; their <see cref="RunSettings.Data"/> null means the embedded subset.</param>
    /// <param name="outPath">The CSV file.</param>
    /// <param name="split">Which examples: the test split (as eval), the training split, or all of them in file order.</param>
    /// <param name="execution">
    /// The threads, the cancellation that stops the scoring between chunks (<see cref="OperationCanceledException"/>; the
    /// part file is deleted) and where <see cref="RunProgress"/> goes; null: <see cref="Execution.Serial"/>.
    /// </param>
    public static ScoreSummary Run(RunCheckpoint checkpoint, RunSettings settings, string outPath, DataSplit split = DataSplit.Test, Execution? execution = null)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        ArgumentNullException.ThrowIfNull(settings);
        OutputFiles.Check(inputs: [("--checkpoint", checkpoint.Path), ("--data", settings.Data)], files: [("--out", outPath)]);
        settings.Validate();
        var model = checkpoint.Model();
        var data = Runs.LoadData(settings, model.Config);
        var x = split switch
        {
            DataSplit.Test => data.TestX,
            DataSplit.Train => data.Prepared(data.Train),
            _ => data.Prepared(data.All()),
        };
        // Where each scored example sits in its file: the splits' own origins, training examples first (as All() orders them).
        Dataset[] parts = split switch { DataSplit.Test => [data.Test], DataSplit.Train => [data.Train], _ => [data.Train, data.Test] };
        var rows = parts.SelectMany(d => d.Origin.Rows).ToArray();
        var names = parts.SelectMany(d => Enumerable.Repeat(d == data.Test ? "test" : "train", d.Count)).ToArray();
        string meaning = parts.Select(d => d.Origin.Meaning(d.Source)).Distinct().Count() == 1
            ? $"row: {parts[0].Origin.Meaning(parts[0].Source)}"
            : string.Join("; ", parts.Select(d => $"{(d == data.Test ? "test" : "train")} row: {d.Origin.Meaning(d.Source)}"));
        double sum = 0;
        using (var outputs = new OutputFiles())
        {
            outputs.Write("--out", outPath, part =>
            {
                using var w = new StreamWriter(part, append: false) { AutoFlush = true, NewLine = "\n" };
                w.WriteLine(Header);
                var run = RunProgressSink.Evaluation(execution ?? Execution.Serial, RunFolder.ModelName(model.Config.Model), RunPhase.Eval, x.Rows);
                Scoring.Score(model, x, settings.EvalK, (i, logPx, se) =>
                {
                    w.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{names[i]},{rows[i]},{logPx:R},{se:R}"));
                    sum += logPx;
                }, execution: run);
            }, temporarySuffix: PartSuffix);
            outputs.Commit();
        }
        return new ScoreSummary(outPath, x.Rows, sum / x.Rows, meaning);
    }
}
