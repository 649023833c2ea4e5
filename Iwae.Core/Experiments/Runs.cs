using System.Diagnostics;
using Iwae.Autodiff;
using Iwae.Core.Checkpoints;
using Iwae.Core.Data;
using Iwae.Core.Sweeps;

namespace Iwae.Core;

/// <summary>
/// The library calls behind the `iwae` command: load data, train one model and evaluate it, or train a VAE
/// and an IWAE with identical settings and compare them. Files go through <see cref="RunFolder"/> and
/// <see cref="RunCheckpoint"/>; this class only orchestrates.
/// </summary>
public static class Runs
{
    /// <summary>Train and test sets: the training images as grey levels, the test set binarised once (Bernoulli models).</summary>
    /// <param name="Train">The training split, as read.</param>
    /// <param name="Test">The test split, as read.</param>
    /// <param name="TestX">The test split as evaluation reads it: binarised once with <paramref name="BinarizationSeed"/> for a Bernoulli model.</param>
    /// <param name="BinarizationSeed">The seed of that binarisation, or null when the values are used as they are.</param>
    public sealed record Data(Dataset Train, Dataset Test, Tensor<float> TestX, ulong? BinarizationSeed = null)
    {
        /// <summary><paramref name="split"/>'s examples as evaluation reads them (binarised as <see cref="TestX"/> is).</summary>
        public Tensor<float> Prepared(Dataset split) => BinarizationSeed is ulong seed ? Binarize.Fixed(split.Images, seed) : split.Images;

        /// <summary>Every example: the training split, then the test split.</summary>
        public Dataset All()
        {
            var t = Tensor<float>.Zeros(Train.Count + Test.Count, Train.PixelsPerImage);
            Train.Images.Span.CopyTo(t.Span);
            Test.Images.Span.CopyTo(t.Span[Train.Images.Span.Length..]);
            return new Dataset(t, Train.HasLabels && Test.HasLabels ? [.. Train.Labels, .. Test.Labels] : [], Train.Rows, Train.Cols, Train.Source);
        }

        /// <summary>Throws <see cref="ArgumentException"/> when a model of <paramref name="config"/> cannot read these data.</summary>
        public Data CheckFits(ModelConfig config)
        {
            config.CheckInput(TestX.Cols);
            return this;
        }
    }

    /// <summary>
    /// Loads the data of <paramref name="settings"/> (<see cref="DataSource"/>; the embedded subset by default). For the
    /// Bernoulli observation model every value must lie in [0, 1] (grey levels are binarised: each minibatch anew while
    /// training, the test set once with a fixed seed).
    /// </summary>
    public static Data LoadData(RunSettings settings, Observation observation = Observation.Bernoulli)
    {
        var (train, test) = DataSource.Load(settings.Data, settings.TestFraction);
        if (observation == Observation.Bernoulli)
        {
            CheckProbabilities(train);
            CheckProbabilities(test);
        }
        ulong? seed = observation == Observation.Bernoulli ? settings.TestBinarizationSeed : null;
        var testX = seed is ulong s ? Binarize.Fixed(test.Images, s) : test.Images;
        return new Data(train, test, testX, seed);
    }

    private static void CheckProbabilities(Dataset d)
    {
        var v = d.Images.Span;
        for (int i = 0; i < v.Length; i++)
            if (!(v[i] >= 0 && v[i] <= 1))
                throw DataFormatException.At(d.Source, $"value {v[i]} (example {i / d.PixelsPerImage}, column {i % d.PixelsPerImage}) is outside [0, 1], which the Bernoulli observation model needs; train with --observation gaussian");
    }

    /// <summary>Loads the data of <paramref name="settings"/> for a trained model, checking that it can read them.</summary>
    public static Data LoadData(RunSettings settings, ModelConfig model) => LoadData(settings, model.Observation).CheckFits(model);

    /// <summary>A model for <paramref name="config"/>, initialised from the seed, its decoder bias at the training data's mean.</summary>
    public static Iwae<float> CreateModel(ModelConfig config, Dataset train, ulong seed)
        => Iwae<float>.Create(config, new Rng(seed), train.MeanPerPixel());

    /// <summary>
    /// `iwae train`: checks the options against the model, loads the data (a new model's input size follows them),
    /// creates the run folder once the inputs are known to be good and takes its lock (<see cref="SweepLock"/>: a
    /// second writer of the folder, a sweep's worker or another `train`, gets <see cref="IOException"/> naming the
    /// holder), then <see cref="TrainAndEvaluate"/>; with a run folder, results.json at the end (its presence marks
    /// the run as done).
    /// </summary>
    public static ModelResult Train(ModelConfig config, TrainOptions options, RunSettings settings, Action<string>? log = null,
        CancellationToken cancel = default, RunCheckpoint? resume = null, ComputeContext? compute = null)
        => Train(config, options, settings, log, cancel, resume, compute, held: null);

    /// <summary><see cref="Train(ModelConfig, TrainOptions, RunSettings, Action{string}?, CancellationToken, RunCheckpoint?, ComputeContext?)"/> for a caller that already holds the folder's lock (a sweep's worker).</summary>
    internal static ModelResult Train(ModelConfig config, TrainOptions options, RunSettings settings, Action<string>? log,
        CancellationToken cancel, RunCheckpoint? resume, ComputeContext? compute, SweepLock? held)
    {
        options.Validate(config);
        var data = LoadData(settings, config.Observation);
        if (resume is null) config = config with { InputSize = data.Train.PixelsPerImage };     // a new model reads what the data hold
        data.CheckFits(config);
        var folder = settings.Folder?.Create();
        using var own = held is null && folder is not null ? SweepLock.Acquire(folder.Path) : null;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel, own?.Lost ?? CancellationToken.None);
        cancel = stop.Token;
        var result = TrainAndEvaluate(config, options, settings, data, log, cancel, resume, compute).Result;
        folder?.WriteResults(Results([result], config, options, settings, data));
        return result;
    }

    /// <summary>
    /// Trains <paramref name="config"/>'s model and evaluates it on the test set, on <paramref name="compute"/> (default:
    /// <see cref="TrainOptions.Threads"/> threads). With an output folder, a checkpoint is written every
    /// <see cref="RunSettings.CheckpointEvery"/> epochs and at the end, with per-epoch and per-stage metrics; when
    /// <paramref name="cancel"/> fires, the current step finishes, a checkpoint is written and
    /// <see cref="OperationCanceledException"/> is thrown. <paramref name="resume"/> continues a run from its checkpoint
    /// (weights, optimiser, RNG and position in the schedule), bit-identically to an uninterrupted run.
    /// </summary>
    public static (Iwae<float> Model, ModelResult Result) TrainAndEvaluate(ModelConfig config, TrainOptions options, RunSettings settings,
        Data data, Action<string>? log = null, CancellationToken cancel = default, RunCheckpoint? resume = null, ComputeContext? compute = null)
    {
        string name = RunFolder.ModelName(config.Model);
        var model = resume is null ? CreateModel(config, data.Train, options.Seed) : resume.Model();
        if (resume is not null && model.Config.ToJson() != config.ToJson())
            throw new CheckpointFormatException(resume.Path, $"holds a {Describe(model.Config)} model, not the requested {Describe(config)}");
        var trainer = new Trainer(model, data.Train, options, compute);
        using var scope = trainer.Compute.Enter();      // the stage and final evaluations run on the trainer's threads
        if (resume is not null)
        {
            resume.Restore(trainer);
            log?.Invoke($"{name}: resuming from {resume.Path} after {trainer.Position.EpochsDone} epochs and {trainer.Position.StepInEpoch} steps");
        }
        if (settings.Progress is { } progress)
        {
            long perEpoch = (data.Train.Count + options.BatchSize - 1) / options.BatchSize, total = perEpoch * options.TotalEpochs;
            trainer.OnStep = s => progress(new RunProgress(name, RunPhase.Train, s.Stage, s.Epoch, options.TotalEpochs, s.LearningRate,
                (s.Epoch - 1) * perEpoch + s.Step, total, s.RunningBound));
        }
        var folder = settings.Folder;
        string? checkpoint = folder?.Checkpoint(name);
        using var metrics = folder?.WriteMetrics(name, append: resume is not null);
        using var stages = folder?.WriteStages(name, append: resume is not null);
        var stageX = data.TestX.RowSlice(0, Math.Min(settings.StageEvalImages, data.TestX.Rows));
        double evalSeconds = 0;
        var sw = Stopwatch.StartNew();
        IReadOnlyList<EpochMetrics> epochs;
        try
        {
            epochs = trainer.Train(m =>
            {
                metrics?.Write(m);
                string oneThread = m.OneThreadSteps > 0 ? $", {m.OneThreadSteps} steps on 1 thread" : "";
                log?.Invoke($"{name} stage {m.Stage} epoch {m.Epoch}/{options.TotalEpochs} lr {m.LearningRate:G3} train bound {m.TrainBound:F2} ({m.Seconds:F1}s{oneThread})");
                if (checkpoint is not null && m.Epoch % settings.CheckpointEvery == 0) RunCheckpoint.Save(checkpoint, model, trainer, settings);
            }, cancel, onStageEnd: m =>
            {
                if (settings.StageEvalK < 1 || stageX.Rows == 0) return;
                var e = Stopwatch.StartNew();
                double nll = Evaluation.Nll(model, stageX, settings.StageEvalK, seed: 44,
                    progress: EvalProgress.For(settings, name, RunPhase.StageEval, stageX.Rows, m.Stage, m.Epoch, options.TotalEpochs));
                evalSeconds += e.Elapsed.TotalSeconds;
                stages?.Write(new StageMetrics(m.Stage, m.Epoch, m.TrainBound, nll, settings.StageEvalK, stageX.Rows, e.Elapsed.TotalSeconds));
                log?.Invoke($"{name} stage {m.Stage} done: test NLL (k={settings.StageEvalK}, {stageX.Rows} images) {nll:F2}");
            });
        }
        catch (OperationCanceledException) when (checkpoint is not null)
        {
            RunCheckpoint.Save(checkpoint, model, trainer, settings);
            log?.Invoke($"{name}: interrupted after {trainer.Position.EpochsDone} epochs and {trainer.Position.StepInEpoch} steps; checkpoint {checkpoint}");
            throw;
        }
        double trainSeconds = sw.Elapsed.TotalSeconds - evalSeconds;
        if (checkpoint is not null) RunCheckpoint.Save(checkpoint, model, trainer, settings);
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

    /// <summary>
    /// Test NLL at <see cref="RunSettings.EvalK"/>, bounds at k = 1 and the model's k, active units; on
    /// <paramref name="compute"/> (default: the current context).
    /// </summary>
    public static ModelResult Evaluate(Iwae<float> model, Tensor<float> testX, RunSettings settings, Action<string>? log = null, ComputeContext? compute = null)
    {
        using var scope = (compute ?? ComputeContext.Current).Enter();
        string name = RunFolder.ModelName(model.Config.Model);
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

    /// <summary>`iwae eval`: the checkpoint's model evaluated on the test set of <paramref name="settings"/> (see <see cref="Evaluate(Iwae{float}, Tensor{float}, RunSettings, Action{string}?, ComputeContext?)"/>).</summary>
    public static ModelResult Evaluate(RunCheckpoint checkpoint, RunSettings settings, Action<string>? log = null, ComputeContext? compute = null)
    {
        var model = checkpoint.Model();
        return Evaluate(model, LoadData(settings, model.Config).TestX, settings, log, compute);
    }

    /// <summary>"iwae 784-200-200-50 k=5 bernoulli", for messages.</summary>
    internal static string Describe(ModelConfig c) => $"{RunFolder.ModelName(c.Model)} {c.Architecture} k={c.K} {c.Observation.ToString().ToLowerInvariant()}";

    /// <summary>
    /// The main job: a VAE and an IWAE with the same architecture, k, seed and schedule, trained and evaluated
    /// in turn; results.json and the checkpoints go to <see cref="RunSettings.OutDir"/>. The options' estimator
    /// trains the IWAE; the VAE keeps the plain ELBO gradient, the baseline.
    /// </summary>
    public static RunResults Compare(ModelConfig config, TrainOptions options, RunSettings settings, Action<string>? log = null,
        CancellationToken cancel = default, ComputeContext? compute = null)
    {
        options.Validate(config with { Model = ModelKind.Iwae });
        var data = LoadData(settings, config.Observation);
        config = config with { InputSize = data.Train.PixelsPerImage };
        var folder = settings.Folder?.Create();
        using var own = folder is null ? null : SweepLock.Acquire(folder.Path);     // one writer per run folder, as in Train
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel, own?.Lost ?? CancellationToken.None);
        cancel = stop.Token;
        var (_, vae) = TrainAndEvaluate(config with { Model = ModelKind.Vae }, options with { Estimator = GradientEstimator.Iwae }, settings, data, log, cancel, compute: compute);
        var (_, iwae) = TrainAndEvaluate(config with { Model = ModelKind.Iwae }, options, settings, data, log, cancel, compute: compute);
        var results = Results([vae, iwae], config with { Model = ModelKind.Iwae }, options, settings, data);
        folder?.WriteResults(results);
        return results;
    }

    /// <summary>results.json of <paramref name="models"/>, trained with <paramref name="options"/> on <paramref name="data"/>.</summary>
    private static RunResults Results(ModelResult[] models, ModelConfig config, TrainOptions options, RunSettings settings, Data data) => new()
    {
        Models = models,
        Config = config,
        Train = options,
        EvalK = settings.EvalK,
        Data = settings.Data ?? Mnist.SubsetFolder,
        TestFraction = settings.TestFraction,
        TrainImages = data.Train.Count,
        TestImages = data.Test.Count,
        Kernels = Autodiff.Kernels.Simd.Best.ToString(),
        Machine = $"{Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}",
    };
}
