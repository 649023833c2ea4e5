using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Iwae.Autodiff;
using Iwae.Core.Checkpoints;
using Iwae.Core.Data;

namespace Iwae.Core;

/// <summary>One trained model's test figures: a row of the comparison table and of results.json.</summary>
public sealed record ModelResult
{
    /// <summary>"iwae" or "vae".</summary>
    public required string Model { get; init; }
    /// <summary>Samples per input in training.</summary>
    public required int K { get; init; }
    /// <summary>Test negative log-likelihood estimate -L_5000, nats (lower is better).</summary>
    [JsonPropertyName("test_nll_k5000")] public required double TestNllK5000 { get; init; }
    /// <summary>Test bound at k = 1 (the ELBO), nats.</summary>
    [JsonPropertyName("test_bound_k1")] public required double TestBoundK1 { get; init; }
    /// <summary>Test bound at the training k, nats.</summary>
    public required double TestBoundK { get; init; }
    /// <summary>Latent dimensions with Var_x E_q[z_i|x] above 0.01.</summary>
    public required int ActiveUnits { get; init; }
    /// <summary>Wall time of training.</summary>
    public required double TrainSeconds { get; init; }
    /// <summary>Wall time of the evaluation.</summary>
    public required double EvalSeconds { get; init; }
    /// <summary>Epochs trained.</summary>
    public required int Epochs { get; init; }
    /// <summary>Final training bound (mean over the last epoch's minibatches).</summary>
    public required double FinalTrainBound { get; init; }
    /// <summary>Var_x E_q[z_i|x] per latent dimension.</summary>
    public required double[] UnitVariances { get; init; }
    /// <summary>The checkpoint written, if any.</summary>
    public string? Checkpoint { get; init; }
    /// <summary>The gradient estimator it was trained with ("iwae", "dreg", ...).</summary>
    public string Estimator { get; init; } = "iwae";
    /// <summary>Active units of each stochastic layer (h1, then h2 with two layers); the first is <see cref="ActiveUnits"/>.</summary>
    public int[] ActiveUnitsPerLayer { get; init; } = [];
}

/// <summary>The learning curve's point at the end of a stage.</summary>
/// <param name="Stage">Schedule stage.</param>
/// <param name="Epoch">Epochs trained so far.</param>
/// <param name="TrainBound">Last epoch's training bound.</param>
/// <param name="TestNll">-L_k on the first <paramref name="Images"/> test images.</param>
/// <param name="K">k of that estimate.</param>
/// <param name="Images">Test images used.</param>
/// <param name="Seconds">Time the estimate took (not counted as training time).</param>
public sealed record StageMetrics(int Stage, int Epoch, double TrainBound, double TestNll, int K, int Images, double Seconds);

/// <summary>Where the data comes from and how a run is evaluated.</summary>
public sealed record RunSettings
{
    /// <summary>Folder with the four MNIST IDX files; null for the embedded subset.</summary>
    public string? DataFolder { get; init; }
    /// <summary>k of the log-likelihood estimate (5000 in the paper).</summary>
    public int EvalK { get; init; } = 5000;
    /// <summary>Seed of the test set's one fixed binarisation.</summary>
    public ulong TestBinarizationSeed { get; init; } = 0x7E57;
    /// <summary>Folder for checkpoints, metrics and results; null writes nothing.</summary>
    public string? OutDir { get; init; }
    /// <summary>k of the test NLL measured at the end of every stage (the learning curve); 0 skips it.</summary>
    public int StageEvalK { get; init; } = 1000;
    /// <summary>Test images (the first ones) used for the per-stage NLL.</summary>
    public int StageEvalImages { get; init; } = 500;
    /// <summary>Epochs between checkpoints (one is also written at the end and on interruption).</summary>
    public int CheckpointEvery { get; init; } = 1;
    /// <summary>Receives <see cref="RunProgress"/> reports (live displays); null for none.</summary>
    public Action<RunProgress>? Progress { get; init; }
}

/// <summary>
/// The library calls behind the `iwae` command: load data, train one model and evaluate it, or train a VAE
/// and an IWAE with identical settings and compare them.
/// </summary>
public static class Runs
{
    /// <summary>Checkpoint format tag in the safetensors metadata.</summary>
    public const string Format = "iwae.net/1";

    /// <summary>Train and test sets: the training images as grey levels, the test set binarised once (Bernoulli models).</summary>
    public sealed record Data(Dataset Train, Dataset Test, Tensor<float> TestX);

    /// <summary>Loads the data of <paramref name="settings"/> (the embedded subset by default).</summary>
    public static Data LoadData(RunSettings settings, Observation observation = Observation.Bernoulli)
    {
        var (train, test) = Mnist.Load(settings.DataFolder ?? Mnist.DefaultFolder());
        var testX = observation == Observation.Bernoulli ? Binarize.Fixed(test.Images, settings.TestBinarizationSeed) : test.Images;
        return new Data(train, test, testX);
    }

    /// <summary>A model for <paramref name="config"/>, initialised from the seed, its decoder bias at the training data's mean.</summary>
    public static Iwae<float> CreateModel(ModelConfig config, Dataset train, ulong seed)
        => Iwae<float>.Create(config, new Rng(seed), train.MeanPerPixel());

    /// <summary>
    /// Trains <paramref name="config"/>'s model and evaluates it on the test set. With an output folder, a
    /// checkpoint <c>&lt;model&gt;.safetensors</c> is written every <see cref="RunSettings.CheckpointEvery"/> epochs
    /// and at the end; when <paramref name="cancel"/> fires, the current step finishes, a checkpoint is written and
    /// <see cref="OperationCanceledException"/> is thrown. <paramref name="resumeFrom"/> continues a run from its
    /// checkpoint (weights, optimiser, RNG and position in the schedule), bit-identically to an uninterrupted run.
    /// </summary>
    public static (Iwae<float> Model, ModelResult Result) TrainAndEvaluate(ModelConfig config, TrainOptions options, RunSettings settings,
        Data data, Action<string>? log = null, CancellationToken cancel = default, string? resumeFrom = null)
    {
        string name = config.Model.ToString().ToLowerInvariant();
        var model = resumeFrom is null ? CreateModel(config, data.Train, options.Seed) : LoadModel(resumeFrom);
        if (resumeFrom is not null && model.Config.ToJson() != config.ToJson())
            throw new CheckpointFormatException(resumeFrom, $"holds a {Describe(model.Config)} model, not the requested {Describe(config)}");
        var trainer = new Trainer(model, data.Train, options);
        using var compute = trainer.Compute.Enter();      // the stage and final evaluations run on the trainer's threads
        if (resumeFrom is not null)
        {
            RestoreTrainer(resumeFrom, trainer);
            log?.Invoke($"{name}: resuming from {resumeFrom} after {trainer.Position.EpochsDone} epochs and {trainer.Position.StepInEpoch} steps");
        }
        if (settings.Progress is { } progress)
        {
            long perEpoch = (data.Train.Count + options.BatchSize - 1) / options.BatchSize, total = perEpoch * options.TotalEpochs;
            trainer.OnStep = s => progress(new RunProgress(name, RunPhase.Train, s.Stage, s.Epoch, options.TotalEpochs, s.LearningRate,
                (s.Epoch - 1) * perEpoch + s.Step, total, s.RunningBound));
        }
        bool append = resumeFrom is not null;
        string? checkpoint = settings.OutDir is null ? null : Path.Combine(settings.OutDir, $"{name}.safetensors");
        using var metrics = settings.OutDir is null ? null : new StreamWriter(Path.Combine(settings.OutDir, $"{name}-metrics.jsonl"), append);
        using var stages = settings.OutDir is null ? null : new StreamWriter(Path.Combine(settings.OutDir, $"{name}-stages.jsonl"), append);
        var stageX = data.TestX.RowSlice(0, Math.Min(settings.StageEvalImages, data.TestX.Rows));
        double evalSeconds = 0;
        var sw = Stopwatch.StartNew();
        IReadOnlyList<EpochMetrics> epochs;
        try
        {
            epochs = trainer.Train(m =>
            {
                metrics?.WriteLine(JsonSerializer.Serialize(m, JsonOptions));
                metrics?.Flush();
                string oneThread = m.OneThreadSteps > 0 ? $", {m.OneThreadSteps} steps on 1 thread" : "";
                log?.Invoke($"{name} stage {m.Stage} epoch {m.Epoch}/{options.TotalEpochs} lr {m.LearningRate:G3} train bound {m.TrainBound:F2} ({m.Seconds:F1}s{oneThread})");
                if (checkpoint is not null && m.Epoch % settings.CheckpointEvery == 0) SaveCheckpoint(checkpoint, model, trainer, settings);
            }, cancel, onStageEnd: m =>
            {
                if (settings.StageEvalK < 1 || stageX.Rows == 0) return;
                var e = Stopwatch.StartNew();
                double nll = Evaluation.Nll(model, stageX, settings.StageEvalK, seed: 44,
                    progress: EvalProgress.For(settings, name, RunPhase.StageEval, stageX.Rows, m.Stage, m.Epoch, options.TotalEpochs));
                evalSeconds += e.Elapsed.TotalSeconds;
                var row = new StageMetrics(m.Stage, m.Epoch, m.TrainBound, nll, settings.StageEvalK, stageX.Rows, e.Elapsed.TotalSeconds);
                stages?.WriteLine(JsonSerializer.Serialize(row, JsonOptions));
                stages?.Flush();
                log?.Invoke($"{name} stage {m.Stage} done: test NLL (k={settings.StageEvalK}, {stageX.Rows} images) {nll:F2}");
            });
        }
        catch (OperationCanceledException) when (checkpoint is not null)
        {
            SaveCheckpoint(checkpoint, model, trainer, settings);
            log?.Invoke($"{name}: interrupted after {trainer.Position.EpochsDone} epochs and {trainer.Position.StepInEpoch} steps; checkpoint {checkpoint}");
            throw;
        }
        double trainSeconds = sw.Elapsed.TotalSeconds - evalSeconds;
        if (checkpoint is not null) SaveCheckpoint(checkpoint, model, trainer, settings);
        var result = Evaluate(model, data.TestX, settings, log) with
        {
            TrainSeconds = trainSeconds,
            Epochs = trainer.Position.EpochsDone,
            FinalTrainBound = epochs.Count > 0 ? epochs[^1].TrainBound : double.NaN,
            Checkpoint = checkpoint,
            Estimator = options.Estimator.ToString().ToLowerInvariant(),
        };
        return (model, result);
    }

    /// <summary>Reads a checkpoint's model config, training options and run settings (for resuming it).</summary>
    public static (ModelConfig Config, TrainOptions Options, RunSettings Settings) ReadRunInfo(string path)
    {
        var meta = Checkpoint.Load(path).Metadata;
        var config = ReadConfig(path, meta);
        if (!meta.TryGetValue("train", out var json)) throw new CheckpointFormatException(path, "no training options in the metadata (not an iwae.net checkpoint)");
        TrainOptions options;
        try { options = (JsonSerializer.Deserialize<TrainOptions>(json, JsonOptions) ?? throw new JsonException("null")).Validate(); }
        catch (Exception e) when (e is JsonException or ArgumentException) { throw new CheckpointFormatException(path, $"training options are invalid: {e.Message}"); }
        var settings = new RunSettings { DataFolder = meta.TryGetValue("data", out var d) && d.Length > 0 ? d : null };
        if (meta.TryGetValue("eval_k", out var ek))
            settings = settings with { EvalK = int.TryParse(ek, NumberStyles.None, CultureInfo.InvariantCulture, out int k) && k >= 1 ? k : throw new CheckpointFormatException(path, $"eval_k '{ek}' is not a positive integer") };
        return (config, options, settings);
    }

    /// <summary>Restores optimiser, RNG and schedule position from a checkpoint into <paramref name="trainer"/>.</summary>
    public static void RestoreTrainer(string path, Trainer trainer)
    {
        var data = Checkpoint.Load(path);
        data.RestoreOptimizer(trainer.Optimizer);
        data.RestoreRng(trainer.Rng);
        var m = data.Metadata;
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
            throw new CheckpointFormatException(path, $"the trainer position in the metadata is missing or invalid ({e.Message})");
        }
    }

    /// <summary>Test NLL at <see cref="RunSettings.EvalK"/>, bounds at k = 1 and the model's k, active units.</summary>
    public static ModelResult Evaluate(Iwae<float> model, Tensor<float> testX, RunSettings settings, Action<string>? log = null)
    {
        string name = model.Config.Model.ToString().ToLowerInvariant();
        var sw = Stopwatch.StartNew();
        log?.Invoke($"{name}: evaluating log p(x) at k={settings.EvalK} on {testX.Rows} test images");
        double nll = Evaluation.Nll(model, testX, settings.EvalK, progress: EvalProgress.For(settings, name, RunPhase.Eval, testX.Rows));
        double b1 = Evaluation.Bound(model, testX, 1);
        double bk = Evaluation.Bound(model, testX, model.K);
        var layers = Evaluation.ActiveUnitsPerLayer(model, testX);
        var au = layers[0];
        return new ModelResult
        {
            Model = name, K = model.K, TestNllK5000 = nll, TestBoundK1 = b1, TestBoundK = bk, ActiveUnits = au.Count,
            ActiveUnitsPerLayer = layers.Select(l => l.Count).ToArray(),
            UnitVariances = au.Variances, EvalSeconds = sw.Elapsed.TotalSeconds, TrainSeconds = 0, Epochs = 0, FinalTrainBound = double.NaN,
        };
    }

    /// <summary>
    /// Writes a trainer's model (weights and config), optimiser, RNG state and position in the schedule to a
    /// safetensors file, atomically (temporary file, flush, rename).
    /// </summary>
    public static void SaveCheckpoint(string path, Iwae<float> model, Trainer trainer, RunSettings? settings = null)
    {
        settings ??= new RunSettings();
        var p = trainer.Position;
        var meta = new Dictionary<string, string>
        {
            ["format"] = Format,
            ["config"] = model.Config.ToJson(),
            ["train"] = JsonSerializer.Serialize(trainer.Options, JsonOptions),
            ["data"] = settings.DataFolder ?? "",
            ["eval_k"] = settings.EvalK.ToString(CultureInfo.InvariantCulture),
            ["epochs"] = p.EpochsDone.ToString(CultureInfo.InvariantCulture),
            ["trainer.epochs_done"] = p.EpochsDone.ToString(CultureInfo.InvariantCulture),
            ["trainer.step_in_epoch"] = p.StepInEpoch.ToString(CultureInfo.InvariantCulture),
            ["trainer.epoch_bound_sum"] = p.EpochBoundSum.ToString("R", CultureInfo.InvariantCulture),
            ["trainer.epoch_start_rng"] = string.Join(",", p.EpochStartRng.Select(x => x.ToString(CultureInfo.InvariantCulture))),
        };
        Checkpoint.Save(path, model.Parameters, meta, trainer.Optimizer, trainer.Rng);
    }

    /// <summary>Rebuilds the model stored in a checkpoint and loads its weights.</summary>
    public static Iwae<float> LoadModel(string path)
    {
        var data = Checkpoint.Load(path);
        var model = Iwae<float>.Create(ReadConfig(path, data.Metadata), new Rng(0));
        data.CopyTo(model.Parameters);
        return model;
    }

    private static string Describe(ModelConfig c) => $"{c.Model.ToString().ToLowerInvariant()} {c.Architecture} k={c.K} {c.Observation.ToString().ToLowerInvariant()}";

    private static ModelConfig ReadConfig(string path, IReadOnlyDictionary<string, string> meta)
    {
        if (!meta.TryGetValue("config", out var json))
            throw new CheckpointFormatException(path, "no model config in the metadata (not an iwae.net checkpoint)");
        try { return ModelConfig.FromJson(json); }
        catch (ArgumentException e) { throw new CheckpointFormatException(path, e.Message); }
    }

    /// <summary>Both models' results, with the settings they share.</summary>
    public sealed record Comparison(ModelResult Vae, ModelResult Iwae, ModelConfig Config, TrainOptions Options, RunSettings Settings, int TrainImages, int TestImages);

    /// <summary>
    /// The main job: a VAE and an IWAE with the same architecture, k, seed and schedule, trained and evaluated
    /// in turn; results.json and the checkpoints go to <see cref="RunSettings.OutDir"/>. The options' estimator
    /// trains the IWAE; the VAE keeps the plain ELBO gradient, the baseline.
    /// </summary>
    public static Comparison Compare(ModelConfig config, TrainOptions options, RunSettings settings, Action<string>? log = null, CancellationToken cancel = default)
    {
        var data = LoadData(settings, config.Observation);
        if (settings.OutDir is not null) Directory.CreateDirectory(settings.OutDir);
        var (_, vae) = TrainAndEvaluate(config with { Model = ModelKind.Vae }, options with { Estimator = GradientEstimator.Iwae }, settings, data, log, cancel);
        var (_, iwae) = TrainAndEvaluate(config with { Model = ModelKind.Iwae }, options, settings, data, log, cancel);
        var cmp = new Comparison(vae, iwae, config, options, settings, data.Train.Count, data.Test.Count);
        if (settings.OutDir is not null) WriteResults(Path.Combine(settings.OutDir, "results.json"), cmp);
        return cmp;
    }

    /// <summary>results.json: per model, model, k, test_nll_k5000, test_bound_k1, test_bound_k, active_units, train_seconds, epochs, ...</summary>
    public static void WriteResults(string path, Comparison c)
    {
        var doc = new
        {
            models = new[] { c.Vae, c.Iwae },
            config = c.Config,
            train = c.Options,
            eval_k = c.Settings.EvalK,
            data = c.Settings.DataFolder ?? Mnist.SubsetFolder,
            train_images = c.TrainImages,
            test_images = c.TestImages,
            kernels = Autodiff.Kernels.Simd.Best.ToString(),
            machine = $"{Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}",
        };
        WriteAtomically(path, JsonSerializer.Serialize(doc, JsonOptions));
    }

    /// <summary>Writes text to a temporary file beside <paramref name="path"/>, then renames it.</summary>
    public static void WriteAtomically(string path, string text)
    {
        string tmp = path + ".tmp-" + Guid.NewGuid().ToString("N")[..8];
        try
        {
            File.WriteAllText(tmp, text);
            File.Move(tmp, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
    }

    /// <summary>snake_case JSON, indented, enums as lower-case strings.</summary>
    public static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = false,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };
}
