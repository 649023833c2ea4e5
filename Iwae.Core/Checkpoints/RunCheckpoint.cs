using System.Globalization;
using System.Text.Json;
using Iwae.Autodiff;
using Iwae.Core.Models;
using Iwae.Core.Training;

namespace Iwae.Core.Checkpoints;

/// <summary>
/// A training checkpoint: a <see cref="Checkpoints.Checkpoint"/> file (weights, Adam's state, the RNG state) whose
/// metadata holds what a trainer needs to continue, bit for bit, and what the run that wrote it records about itself:
/// <list type="table">
/// <item><term>format</term><description><see cref="Format"/></description></item>
/// <item><term>config</term><description>the <see cref="ModelConfig"/> as JSON</description></item>
/// <item><term>train</term><description>the <see cref="TrainOptions"/> as JSON</description></item>
/// <item><term>the run's entries</term><description>given to <see cref="Save"/> by whoever runs the training: Iwae.Experiments
/// records the data (its place, held-out share and fingerprint) and the evaluation k here, and reads them back (its
/// RunCheckpointSettings)</description></item>
/// <item><term>epochs, trainer.*</term><description>the <see cref="TrainerPosition"/>: epochs done, step in the epoch, the epoch's bound sum, the RNG state at its start</description></item>
/// <item><term>validation.*</term><description>with a validation split only, the <see cref="ValidationState"/>: validation.best_bound,
/// validation.best_epoch, validation.epochs_since_best; and once there is a best epoch, its weights as the tensors "best.&lt;parameter&gt;"</description></item>
/// </list>
/// <see cref="Read"/> loads the file once; the model, the trainer's state and the run's entries all come from that.
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

    /// <summary>The file's metadata: the keys of the class summary.</summary>
    public IReadOnlyDictionary<string, string> Metadata => _data.Metadata;

    /// <summary>A <see cref="CheckpointFormatException"/> naming this file and <paramref name="problem"/>, for a reader of its entries.</summary>
    public CheckpointFormatException Invalid(string problem) => new(Path, problem);

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
        _data.CopyTo(model.State);
        try { model.CheckStandardization(); }
        catch (ArgumentException e) { throw Invalid(e.Message); }
        return model;
    }

    /// <summary>The training options the run was started with.</summary>
    public TrainOptions Options()
    {
        if (!_data.Metadata.TryGetValue(TrainKey, out var json)) throw Invalid("no training options in the metadata (a model without training state, e.g. from `iwae import`, cannot be resumed)");
        try { return IwaeJson.Deserialize<TrainOptions>(json).Validate(); }
        catch (Exception e) when (e is JsonException or ArgumentException) { throw Invalid($"training options are invalid: {e.Message}"); }
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
            throw Invalid($"the trainer position in the metadata is missing or invalid ({e.Message})");
        }
        if (trainer.ValidationImages == 0) return;
        try
        {
            trainer.Validation = new ValidationState(
                double.Parse(m[BestBoundKey], NumberStyles.Float, CultureInfo.InvariantCulture),
                int.Parse(m[BestEpochKey], NumberStyles.None, CultureInfo.InvariantCulture),
                int.Parse(m[SinceBestKey], NumberStyles.None, CultureInfo.InvariantCulture));
        }
        catch (Exception e) when (e is KeyNotFoundException or FormatException or OverflowException or ArgumentException)
        {
            throw Invalid($"the validation state in the metadata is missing or invalid ({e.Message})");
        }
        if (trainer.Validation.BestEpoch > 0) _data.CopyTo(trainer.BestParameters);
    }

    private const string BestBoundKey = "validation.best_bound", BestEpochKey = "validation.best_epoch", SinceBestKey = "validation.epochs_since_best";

    /// <summary>
    /// Writes a trainer's model (weights and config), optimiser, RNG state and position in the schedule to
    /// <paramref name="path"/> atomically (temporary file, flush, rename), with <paramref name="run"/>'s entries (the run's
    /// data and evaluation, say) after the training options, in the order given.
    /// </summary>
    public static void Save(string path, Iwae<float> model, Trainer trainer, IEnumerable<KeyValuePair<string, string>>? run = null)
    {
        var p = trainer.Position;
        var meta = new Dictionary<string, string>(ModelMetadata(model)) { [TrainKey] = IwaeJson.Serialize(trainer.Options) };
        foreach (var (key, value) in run ?? [])
            if (!meta.TryAdd(key, value)) throw new ArgumentException($"the run's entry '{key}' is one of the checkpoint's own", nameof(run));
        meta["epochs"] = p.EpochsDone.ToString(CultureInfo.InvariantCulture);
        meta["trainer.epochs_done"] = p.EpochsDone.ToString(CultureInfo.InvariantCulture);
        meta["trainer.step_in_epoch"] = p.StepInEpoch.ToString(CultureInfo.InvariantCulture);
        meta["trainer.epoch_bound_sum"] = p.EpochBoundSum.ToString("R", CultureInfo.InvariantCulture);
        meta["trainer.epoch_start_rng"] = string.Join(",", p.EpochStartRng.Select(x => x.ToString(CultureInfo.InvariantCulture)));
        var parameters = model.State;
        if (trainer.ValidationImages > 0)
        {
            var v = trainer.Validation;
            meta[BestBoundKey] = v.BestBound.ToString("R", CultureInfo.InvariantCulture);
            meta[BestEpochKey] = v.BestEpoch.ToString(CultureInfo.InvariantCulture);
            meta[SinceBestKey] = v.EpochsSinceBest.ToString(CultureInfo.InvariantCulture);
            if (v.BestEpoch > 0) parameters = [.. parameters, .. trainer.BestParameters];
        }
        Checkpoint.Save(path, parameters, meta, trainer.Optimizer, trainer.Rng);
    }

    /// <summary>
    /// Writes the best epoch's weights of <paramref name="trainer"/> (<see cref="Trainer.BestParameters"/>) as a model of
    /// <paramref name="model"/>'s config to <paramref name="path"/> atomically, with its epoch and validation bound in the
    /// metadata (best_epoch, validation_bound, validation_k) and <paramref name="run"/>'s entries (as in <see cref="Save"/>): a
    /// model that eval, sample, score and snr read, and that cannot be resumed. False, writing nothing, while there is no
    /// best epoch.
    /// </summary>
    public static bool SaveBest(string path, Iwae<float> model, Trainer trainer, IEnumerable<KeyValuePair<string, string>>? run = null)
    {
        var v = trainer.Validation;
        if (v.BestEpoch == 0) return false;
        // The best epoch's weights, and the data statistics a standardising model keeps (they do not change in training).
        var best = trainer.BestParameters.Select((b, i) => new Parameter<float>(model.Parameters[i].Name, b.Value)).Concat(model.Buffers).ToArray();
        var meta = ModelMetadata(model);
        foreach (var (key, value) in run ?? [])
            if (!meta.TryAdd(key, value)) throw new ArgumentException($"the run's entry '{key}' is one of the checkpoint's own", nameof(run));
        meta["best_epoch"] = v.BestEpoch.ToString(CultureInfo.InvariantCulture);
        meta["validation_bound"] = v.BestBound.ToString("R", CultureInfo.InvariantCulture);
        meta["validation_k"] = trainer.Options.ValidationKFor(model.Config).ToString(CultureInfo.InvariantCulture);
        Checkpoint.Save(path, best, meta);
        return true;
    }

    /// <summary>
    /// Writes <paramref name="model"/> alone, its weights and config without optimiser, RNG or position in the schedule, to
    /// <paramref name="path"/> atomically: all that eval, sample, score and snr read (a model imported from PyTorch, say).
    /// Such a checkpoint cannot be resumed.
    /// </summary>
    public static void SaveModel(string path, Iwae<float> model) => Checkpoint.Save(path, model.State, ModelMetadata(model));

    private static Dictionary<string, string> ModelMetadata(Iwae<float> model) => new() { ["format"] = Format, ["config"] = model.Config.ToJson() };
}
