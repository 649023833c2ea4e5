using System.Globalization;
using System.Text.Json;
using Iwae.Autodiff;
using Iwae.Core.Checkpoints;
using Iwae.Core.Data;

namespace Iwae.Core;

/// <summary>
/// A training checkpoint as `iwae train` and `iwae compare` write it: a <see cref="Checkpoints.Checkpoint"/> file
/// (weights, Adam's state, the RNG state) whose metadata holds what a run needs to continue, bit for bit:
/// <list type="table">
/// <item><term>format</term><description><see cref="Format"/></description></item>
/// <item><term>config</term><description>the <see cref="ModelConfig"/> as JSON</description></item>
/// <item><term>train</term><description>the <see cref="TrainOptions"/> as JSON</description></item>
/// <item><term>data, test_fraction, eval_k</term><description>the run's data (a full path, a fetched set's name, or "" for the embedded subset and for data held in memory), its held-out share (for data without a test split) and evaluation k</description></item>
/// <item><term>data_kind, data_shape, data_sha256</term><description>the <see cref="DataRecord"/>: how the data were given (embedded, path, named, memory) and their fingerprint, checked when the data are read again; absent in older checkpoints, whose data (as typed) are not checked</description></item>
/// <item><term>epochs, trainer.*</term><description>the <see cref="TrainerPosition"/>: epochs done, step in the epoch, the epoch's bound sum, the RNG state at its start</description></item>
/// </list>
/// <see cref="Read"/> loads the file once; the model, the trainer's state and the run's settings all come from that.
/// </summary>
public sealed class RunCheckpoint
{
    /// <summary>Checkpoint format tag in the safetensors metadata.</summary>
    public const string Format = "iwae.net/1";

    /// <summary>The metadata key of the training options: present in the checkpoints training writes, absent from a model alone.</summary>
    public const string TrainKey = "train";

    private readonly CheckpointData _data;

    private RunCheckpoint(CheckpointData data, ModelConfig config)
    {
        _data = data;
        Config = config;
    }

    /// <summary>The file.</summary>
    public string Path => _data.Path;

    /// <summary>The model's config.</summary>
    public ModelConfig Config { get; }

    /// <summary>The model's kind.</summary>
    public ModelKind Kind => Config.Model;

    /// <summary>Reads <paramref name="path"/> and its model config; <see cref="CheckpointFormatException"/> naming the file and the problem.</summary>
    public static RunCheckpoint Read(string path)
    {
        var data = Checkpoint.Load(path);
        if (!data.Metadata.TryGetValue("config", out var json))
            throw new CheckpointFormatException(path, "no model config in the metadata (not an iwae.net checkpoint)");
        try { return new RunCheckpoint(data, ModelConfig.FromJson(json)); }
        catch (ArgumentException e) { throw new CheckpointFormatException(path, e.Message); }
    }

    /// <summary>Rebuilds the model stored in <paramref name="path"/> with its weights.</summary>
    public static Iwae<float> LoadModel(string path) => Read(path).Model();

    /// <summary>A new model of <see cref="Config"/> holding the saved weights.</summary>
    public Iwae<float> Model()
    {
        var model = Iwae<float>.Create(Config, new Rng(0));
        _data.CopyTo(model.Parameters);
        return model;
    }

    /// <summary>The training options the run was started with.</summary>
    public TrainOptions Options()
    {
        if (!_data.Metadata.TryGetValue(TrainKey, out var json)) throw Bad("no training options in the metadata (a model without training state, e.g. from `iwae import`, cannot be resumed)");
        try { return IwaeJson.Deserialize<TrainOptions>(json).Validate(); }
        catch (Exception e) when (e is JsonException or ArgumentException) { throw Bad($"training options are invalid: {e.Message}"); }
    }

    /// <summary>
    /// The run's data, held-out share and evaluation k, as it was started (what evaluating or sampling the model reads
    /// by default); <paramref name="data"/>, when given, replaces the data (the same data found elsewhere, or others).
    /// </summary>
    public RunSettings Settings(string? data = null)
    {
        var meta = _data.Metadata;
        var trainedOn = data is null ? TrainedOn() : null;
        var settings = new RunSettings
        {
            Data = data ?? (trainedOn is not null ? trainedOn.Spec : meta.TryGetValue("data", out var d) && d.Length > 0 ? d : null),
            TrainedOn = trainedOn,
        };
        if (meta.TryGetValue("test_fraction", out var tf))
            settings = settings with { TestFraction = double.TryParse(tf, NumberStyles.Float, CultureInfo.InvariantCulture, out double f) && f > 0 && f < 1 ? f : throw Bad($"test_fraction '{tf}' is not a fraction") };
        if (meta.TryGetValue("eval_k", out var ek))
            settings = settings with { EvalK = int.TryParse(ek, NumberStyles.None, CultureInfo.InvariantCulture, out int k) && k >= 1 ? k : throw Bad($"eval_k '{ek}' is not a positive integer") };
        return settings;
    }

    /// <summary>
    /// What continuing this run trains and evaluates: its config, options and settings as it was started, except
    /// what may change between sessions: the thread count, whether the governor may vary it, the data folder (the
    /// same data, found elsewhere) and the evaluation k.
    /// </summary>
    public (ModelConfig Config, TrainOptions Options, RunSettings Settings) Continue(int? threads = null, bool? adaptiveThreads = null,
        string? data = null, int? evalK = null)
    {
        var options = Options();
        var settings = Settings(data);
        if (threads is int t) options = (options with { Threads = t }).Validate();
        if (adaptiveThreads is bool a) options = options with { AdaptiveThreads = a };
        if (evalK is int k) settings = settings with { EvalK = k };
        return (Config, options, settings);
    }

    /// <summary>The record of the data the model was trained on (<see cref="DataRecord"/>); null in checkpoints written before it was kept, and in models without training state.</summary>
    public DataRecord? TrainedOn()
    {
        var meta = _data.Metadata;
        if (!meta.TryGetValue("data_kind", out var kind)) return null;
        var k = kind switch
        {
            "embedded" => DataKind.Embedded,
            "path" => DataKind.Path,
            "named" => DataKind.Named,
            "memory" => DataKind.InMemory,
            _ => throw Bad($"data_kind '{kind}' is not embedded, path, named or memory"),
        };
        return new DataRecord(k, meta.GetValueOrDefault("data") ?? "", meta.GetValueOrDefault("data_shape") ?? "", meta.GetValueOrDefault("data_sha256") ?? "")
        {
            Checkpoint = Path,
        };
    }

    /// <summary>Puts the saved optimiser, RNG and position in the schedule into <paramref name="trainer"/>.</summary>
    public void Restore(Trainer trainer)
    {
        _data.RestoreOptimizer(trainer.Optimizer);
        _data.RestoreRng(trainer.Rng);
        var m = _data.Metadata;
        try
        {
            var rng = m["trainer.epoch_start_rng"].Split(',').Select(x => ulong.Parse(x, CultureInfo.InvariantCulture)).ToArray();
            trainer.Position = new TrainerPosition(
                int.Parse(m["trainer.epochs_done"], CultureInfo.InvariantCulture),
                int.Parse(m["trainer.step_in_epoch"], CultureInfo.InvariantCulture),
                double.Parse(m["trainer.epoch_bound_sum"], CultureInfo.InvariantCulture),
                rng);
        }
        catch (Exception e) when (e is KeyNotFoundException or FormatException or OverflowException or ArgumentException)
        {
            throw Bad($"the trainer position in the metadata is missing or invalid ({e.Message})");
        }
    }

    /// <summary>
    /// Writes a trainer's model (weights and config), optimiser, RNG state and position in the schedule, with the run's
    /// data and evaluation k, to <paramref name="path"/> atomically (temporary file, flush, rename). With
    /// <paramref name="data"/> (<see cref="DataRecord.Of"/> of the data trained on) the data are recorded by full path
    /// or name with their fingerprint; without, as <paramref name="settings"/> names them.
    /// </summary>
    public static void Save(string path, Iwae<float> model, Trainer trainer, RunSettings? settings = null, DataRecord? data = null)
    {
        settings ??= new RunSettings();
        var p = trainer.Position;
        var meta = new Dictionary<string, string>(ModelMetadata(model))
        {
            [TrainKey] = IwaeJson.Serialize(trainer.Options),
            ["data"] = data is not null ? data.Location : settings.Data ?? "",
            ["eval_k"] = settings.EvalK.ToString(CultureInfo.InvariantCulture),
            ["test_fraction"] = settings.TestFraction.ToString("R", CultureInfo.InvariantCulture),
            ["epochs"] = p.EpochsDone.ToString(CultureInfo.InvariantCulture),
            ["trainer.epochs_done"] = p.EpochsDone.ToString(CultureInfo.InvariantCulture),
            ["trainer.step_in_epoch"] = p.StepInEpoch.ToString(CultureInfo.InvariantCulture),
            ["trainer.epoch_bound_sum"] = p.EpochBoundSum.ToString("R", CultureInfo.InvariantCulture),
            ["trainer.epoch_start_rng"] = string.Join(",", p.EpochStartRng.Select(x => x.ToString(CultureInfo.InvariantCulture))),
        };
        if (data is not null)
        {
            meta["data_kind"] = data.Kind switch { DataKind.Embedded => "embedded", DataKind.Path => "path", DataKind.Named => "named", _ => "memory" };
            meta["data_shape"] = data.Shape;
            meta["data_sha256"] = data.Sha256;
        }
        Checkpoint.Save(path, model.Parameters, meta, trainer.Optimizer, trainer.Rng);
    }

    /// <summary>
    /// Writes <paramref name="model"/> alone, its weights and config without optimiser, RNG or position in the schedule, to
    /// <paramref name="path"/> atomically: all that eval, sample, score and snr read (a model imported from PyTorch, say).
    /// Such a checkpoint cannot be resumed.
    /// </summary>
    public static void SaveModel(string path, Iwae<float> model) => Checkpoint.Save(path, model.Parameters, ModelMetadata(model));

    private static Dictionary<string, string> ModelMetadata(Iwae<float> model) => new() { ["format"] = Format, ["config"] = model.Config.ToJson() };

    private CheckpointFormatException Bad(string problem) => new(Path, problem);
}
