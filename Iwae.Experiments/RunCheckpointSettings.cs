using System.Globalization;
using Iwae.Core.Checkpoints;
using Iwae.Core.Models;
using Iwae.Core.Training;
using Iwae.Datasets;

namespace Iwae.Experiments;

/// <summary>
/// What a run records in its checkpoints beside the model and the trainer (<see cref="RunCheckpoint"/>'s run entries),
/// and how it reads them back:
/// <list type="table">
/// <item><term>data, eval_k, test_fraction</term><description>the run's data (a full path, a fetched set's name, or "" for the embedded subset and for data held in memory), its evaluation k and its held-out share (for data without a test split)</description></item>
/// <item><term>data_kind, data_shape, data_sha256</term><description>the <see cref="DataRecord"/>: how the data were given (embedded, path, named, memory) and their fingerprint, checked when the data are read again; absent in older checkpoints, whose data (as typed) are not checked</description></item>
/// </list>
/// </summary>
public static class RunCheckpointSettings
{
    /// <summary>
    /// <see cref="RunCheckpoint.Save"/> with the run's entries: the data of <paramref name="settings"/> (by
    /// <paramref name="data"/>'s full path or name with its fingerprint when given, else as the settings name them), its
    /// evaluation k and held-out share.
    /// </summary>
    public static void Save(string path, Iwae<float> model, Trainer trainer, RunSettings? settings = null, DataRecord? data = null)
        => RunCheckpoint.Save(path, model, trainer, Entries(settings ?? new RunSettings(), data));

    /// <summary>
    /// <see cref="RunCheckpoint.SaveBest"/> with the run's entries (as <see cref="Save"/> writes them), so that eval, sample
    /// and score read the best weights with the run's data; false while there is no best epoch.
    /// </summary>
    public static bool SaveBest(string path, Iwae<float> model, Trainer trainer, RunSettings? settings = null, DataRecord? data = null)
        => RunCheckpoint.SaveBest(path, model, trainer, Entries(settings ?? new RunSettings(), data));

    private static IEnumerable<KeyValuePair<string, string>> Entries(RunSettings settings, DataRecord? data)
    {
        yield return new("data", data is not null ? data.Location : settings.Data ?? "");
        yield return new("eval_k", settings.EvalK.ToString(CultureInfo.InvariantCulture));
        yield return new("test_fraction", settings.TestFraction.ToString("R", CultureInfo.InvariantCulture));
        if (data is null) yield break;
        yield return new("data_kind", data.Kind switch { DataKind.Embedded => "embedded", DataKind.Path => "path", DataKind.Named => "named", _ => "memory" });
        yield return new("data_shape", data.Shape);
        yield return new("data_sha256", data.Sha256);
    }

    /// <summary>
    /// The run's data, held-out share and evaluation k, as it was started (what evaluating or sampling the model reads
    /// by default); <paramref name="data"/>, when given, replaces the data (the same data found elsewhere, or others).
    /// </summary>
    public static RunSettings Settings(this RunCheckpoint checkpoint, string? data = null)
    {
        var meta = checkpoint.Metadata;
        var trainedOn = data is null ? checkpoint.TrainedOn() : null;
        var settings = new RunSettings
        {
            Data = data ?? (trainedOn is not null ? trainedOn.Spec : meta.TryGetValue("data", out var d) && d.Length > 0 ? d : null),
            TrainedOn = trainedOn,
        };
        if (meta.TryGetValue("test_fraction", out var tf))
            settings = settings with { TestFraction = double.TryParse(tf, NumberStyles.Float, CultureInfo.InvariantCulture, out double f) && f > 0 && f < 1 ? f : throw checkpoint.Invalid($"test_fraction '{tf}' is not a fraction") };
        if (meta.TryGetValue("eval_k", out var ek))
            settings = settings with { EvalK = int.TryParse(ek, NumberStyles.None, CultureInfo.InvariantCulture, out int k) && k >= 1 ? k : throw checkpoint.Invalid($"eval_k '{ek}' is not a positive integer") };
        return settings;
    }

    /// <summary>
    /// What continuing this run trains and evaluates: its config, options and settings as it was started, except
    /// what may change between sessions: the data folder (the same data, found elsewhere) and the evaluation k. How it
    /// runs (threads, thread policy) is the new session's <see cref="Autodiff.Execution"/>, never the checkpoint's: a
    /// checkpoint written before that was so carries "threads" and "adaptive_threads" in its options, which reading ignores.
    /// </summary>
    public static (ModelConfig Config, TrainOptions Options, RunSettings Settings) Continue(this RunCheckpoint checkpoint, string? data = null, int? evalK = null)
    {
        var options = checkpoint.Options();
        var settings = checkpoint.Settings(data);
        if (evalK is int k) settings = settings with { EvalK = k };
        return (checkpoint.Config, options, settings);
    }

    /// <summary>The record of the data the model was trained on (<see cref="DataRecord"/>); null in checkpoints written before it was kept, and in models without training state.</summary>
    public static DataRecord? TrainedOn(this RunCheckpoint checkpoint)
    {
        var meta = checkpoint.Metadata;
        if (!meta.TryGetValue("data_kind", out var kind)) return null;
        var k = kind switch
        {
            "embedded" => DataKind.Embedded,
            "path" => DataKind.Path,
            "named" => DataKind.Named,
            "memory" => DataKind.InMemory,
            _ => throw checkpoint.Invalid($"data_kind '{kind}' is not embedded, path, named or memory"),
        };
        return new DataRecord(k, meta.GetValueOrDefault("data") ?? "", meta.GetValueOrDefault("data_shape") ?? "", meta.GetValueOrDefault("data_sha256") ?? "")
        {
            Checkpoint = checkpoint.Path,
        };
    }
}
